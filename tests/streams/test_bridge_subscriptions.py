"""Which filters the bridge subscribes to and which earlier forms it drops (pure)."""

from __future__ import annotations

from streams.bridge.subscriptions import DEFAULT_SHARE_GROUP, subscriptions
from omnitrack.settings import Settings

FILTERS = ["dt/+/+/telemetry", "dt/+/batch"]


def test_plain_retires_the_default_shared_form() -> None:
    subs = subscriptions(FILTERS, None)
    assert subs.active == FILTERS
    assert subs.retired == [f"$share/{DEFAULT_SHARE_GROUP}/{f}" for f in FILTERS]


def test_shared_retires_the_plain_form_and_the_default_group() -> None:
    assert subscriptions(FILTERS, DEFAULT_SHARE_GROUP).retired == FILTERS
    subs = subscriptions(FILTERS, "fleet-a")
    assert subs.active == [f"$share/fleet-a/{f}" for f in FILTERS]
    assert subs.retired == FILTERS + [f"$share/{DEFAULT_SHARE_GROUP}/{f}" for f in FILTERS]
    assert not set(subs.active) & set(subs.retired)


def test_the_default_group_is_the_settings_default() -> None:
    assert Settings.model_fields["bridge_share_group"].default == DEFAULT_SHARE_GROUP
