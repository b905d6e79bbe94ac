"""Exceptions of the alert domain.

WHY its own classes: the Faust agent must tell a bad operator command (reply with an error, keep going) from a
programming error (crash loudly), and `except AlertError` catches exactly the first kind.
"""

from __future__ import annotations

__all__ = [
    "AlertError",
    "UnitError",
    "UnknownAlertError",
    "SiteMismatchError",
    "NaiveTimeError",
]


class AlertError(ValueError):
    """Base class: an input the alert engine refuses (never raised for internal bugs)."""


class UnitError(AlertError):
    """A reading's unit cannot be converted to the rule's unit (a degF sensor checked as mm/s, say)."""


class UnknownAlertError(AlertError):
    """A command names an alert id or dedup key this site does not hold (or an older, finished occurrence)."""


class SiteMismatchError(AlertError):
    """An input routed to the wrong site's state: two writers would then race on one alert."""


class NaiveTimeError(AlertError):
    """`now` without a timezone: hold times and deadlines would silently shift by the host's UTC offset."""
