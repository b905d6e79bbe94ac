"""The notifier's own exceptions: callers decide retry vs dead-letter by type, not by parsing messages."""

from __future__ import annotations


class NotifyError(Exception):
    """Base of every error raised by `streams.notify`."""


class PolicyError(NotifyError):
    """The routing policy file is missing or invalid (raised at start-up, never mid-stream)."""


class DeliveryError(NotifyError):
    """A delivery attempt failed; `reason` is the short label used in metrics and DLQ records."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class RetryableDeliveryError(DeliveryError):
    """Throttling, 5xx or a connection failure: worth another attempt after a backoff; `retry_after_s` is how long
    the server asked us to wait (HTTP `Retry-After`), if it said."""

    def __init__(self, reason: str, detail: str = "", retry_after_s: float | None = None) -> None:
        super().__init__(reason, detail)
        self.retry_after_s = retry_after_s


class PermanentDeliveryError(DeliveryError):
    """The request itself is wrong (4xx, unknown topic): retrying would fail again; dead-letter it."""
