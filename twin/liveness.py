"""Device liveness: online, stale or offline, from the age of a device twin's newest reading.

Liveness (also in docs/telemetry.md): a device is judged against the interval
it is EXPECTED to keep, which is the network file's nominal interval unless the
device has been seen reporting faster. The twin learns ``interval_s``, an EWMA
of the gaps between consecutive device timestamps (one float of state), and
judges with ``min(nominal, OBSERVED_INTERVAL_FACTOR * observed)``, never below
``MIN_LIVENESS_INTERVAL_S``: a probe configured for 60 s that reports every
second has gone quiet long before 2 x 60 s have passed.
"""

from __future__ import annotations

from datetime import datetime

from twin.device_twin import DeviceState, DeviceStatus, StatusChange, TwinState

# Online while at most ~one report was missed (plus jitter); flapping to stale
# on every slightly late message would flood alerts.
STALE_AFTER_INTERVALS = 2.0
# Offline after several missed reports: long enough to ride out a short
# network blip, short enough that a dead reefer is noticed within minutes.
OFFLINE_AFTER_INTERVALS = 5.0
# A device is expected to keep up to this multiple of its observed interval:
# reporting is bursty (gateways batch, firmware jitters), so a single gap of
# 2 x observed is no sign of silence.
OBSERVED_INTERVAL_FACTOR = 2.0
# Floor of the learned liveness interval, seconds: below it a pause of the
# whole pipeline (a gateway's batch flush, a broker hiccup) would look like
# silence; with it, stale after 10 s and offline after 25 s of silence at best.
MIN_LIVENESS_INTERVAL_S = 5.0


def liveness_interval_s(state: DeviceState | TwinState | None, expected_interval_s: float) -> float:
    """The interval a device is judged against: its nominal `expected_interval_s`, or, when it has been
    seen reporting faster, `OBSERVED_INTERVAL_FACTOR` x its learned interval, floored at
    `MIN_LIVENESS_INTERVAL_S` (never above the nominal: a slow reporter keeps its nominal allowance)."""
    observed = state.interval_s if state is not None else None
    if observed is None:
        return expected_interval_s
    learned = OBSERVED_INTERVAL_FACTOR * observed
    if learned < MIN_LIVENESS_INTERVAL_S:
        learned = MIN_LIVENESS_INTERVAL_S
    return learned if learned < expected_interval_s else expected_interval_s


def status_at(state: DeviceState | TwinState | None, now: datetime, expected_interval_s: float) -> DeviceStatus:
    """online / stale / offline from the age of the newest reading vs the device's liveness interval
    (`liveness_interval_s`: the nominal `expected_interval_s`, or less for a device seen reporting
    faster). Pure: the same state, time and nominal interval always give the same status."""
    if state is None:
        return DeviceStatus.offline
    age = (now - state.last_seen).total_seconds()
    interval = liveness_interval_s(state, expected_interval_s)
    if age <= STALE_AFTER_INTERVALS * interval:
        return DeviceStatus.online
    if age <= OFFLINE_AFTER_INTERVALS * interval:
        return DeviceStatus.stale
    return DeviceStatus.offline


def refresh_status(
    state: DeviceState, now: datetime, expected_interval_s: float
) -> tuple[DeviceState, StatusChange | None]:
    """Recompute status (call after apply_reading and from a periodic timer);
    returns the change to publish, or None. The first evaluation is reported as
    a change from ``None``. ``expected_interval_s`` is the nominal interval
    (network file); `status_at` tightens it for a device seen reporting faster."""
    current = status_at(state, now, expected_interval_s)
    if current == state.status:
        return state, None
    change = StatusChange(state.device_id, state.status, current, now)
    return state.model_copy(update={"status": current}), change


def refresh_in_place(twin: TwinState, now: datetime, expected_interval_s: float) -> StatusChange | None:
    """`refresh_status` for the worker's working state: sets its status, returns the change or None."""
    current = status_at(twin, now, expected_interval_s)
    if current is twin.status:
        return None
    change = StatusChange(twin.device_id, twin.status, current, now)
    twin.status = current
    return change
