"""Vectorised, seeded signal generators, one function per device kind.

WHY counter-based noise: every random draw is a pure hash of (root seed,
device uid, seq, stream). A device's reading therefore depends only on the
seed, the device and its own counter, never on how the fleet was sharded across
processes or how ticks happened to fall, so "same seed -> identical readings"
holds for any process count, and a whole tick of thousands of devices is one
numpy expression instead of thousands of Generator calls.

All functions take arrays indexed by the tick's device slice and return float
arrays; nothing here does I/O or reads a clock (``t`` is simulated seconds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# splitmix64 constants (Steele et al.): full-avalanche 64-bit mixing, so
# neighbouring (device, seq) keys give uncorrelated draws.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
# Odd multipliers spreading device uid and seq over the key so (uid, seq) and
# (uid+1, seq-k) never collide for realistic counters.
_UID_MUL = np.uint64(0xD6E8FEB86659FD93)
_SEQ_MUL = np.uint64(0xA0761D6478BD642F)
_TWO_PI = 2.0 * np.pi
SECONDS_PER_DAY = 86_400.0

# Named noise streams: each metric draws from its own stream so adding a new
# draw to one metric never shifts another metric's values (reproducibility
# across versions).
S_TEMP, S_HUM, S_VIB, S_SHOCK, S_SHOCK_SIZE, S_GPS, S_THR, S_DOOR, S_AMB = range(1, 10)
# Handling bumps of a normal trip (g): well below a 5 g drop.
HANDLING_G_MIN, HANDLING_G_MAX = 1.0, 3.5


def _mix(z: np.ndarray) -> np.ndarray:
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def uniform(seed: int, uid: np.ndarray, seq: np.ndarray, stream: int) -> np.ndarray:
    """U[0,1) draws, one per (uid, seq), reproducible from the root seed."""
    with np.errstate(over="ignore"):
        key = (
            uid.astype(np.uint64) * _UID_MUL
            ^ seq.astype(np.uint64) * _SEQ_MUL
            ^ np.uint64((seed * 0x100000001B3 + stream * 0x9E37) & 0xFFFFFFFFFFFFFFFF)
        )
        z = _mix(_mix(key))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def normal(seed: int, uid: np.ndarray, seq: np.ndarray, stream: int) -> np.ndarray:
    """Standard normal draws (Box-Muller over two counter-based uniforms)."""
    u1 = uniform(seed, uid, seq, stream * 2 + 101)
    u2 = uniform(seed, uid, seq, stream * 2 + 102)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(_TWO_PI * u2)


@dataclass
class SignalParams:
    """Per-device static parameters, one array entry per fleet device (unused
    entries are zero for kinds that don't need them)."""

    uid: np.ndarray  # int64 stable device number (noise key)
    phase: np.ndarray  # 0..1 cycle phase (compressor, shipment progress, refill)
    period_s: np.ndarray  # compressor cycle / refill period
    base: np.ndarray  # setpoint, baseline vibration, humidity, throughput, inventory top
    amp: np.ndarray  # cycle amplitude / demand per second
    prob: np.ndarray  # shock spike or door-open probability per reading
    ambient_c: np.ndarray  # ambient temperature for humidity probes
    lon: np.ndarray  # site longitude: diurnal cycle follows local solar time
    lat0: np.ndarray
    lon0: np.ndarray
    lat1: np.ndarray
    lon1: np.ndarray
    lane_s: np.ndarray  # lane transit time in seconds (GPS speed)
    battery0: np.ndarray
    battery_decay: np.ndarray  # % per second


def diurnal(t: np.ndarray | float, lon: np.ndarray) -> np.ndarray:
    """+1 at ~15:00 local solar time, -1 at ~03:00."""
    local = np.asarray(t) + lon / 360.0 * SECONDS_PER_DAY
    return np.sin(_TWO_PI * (local / SECONDS_PER_DAY - 0.375))


def reefer_temperature(p: SignalParams, i: np.ndarray, t: np.ndarray | float, seq: np.ndarray, seed: int) -> np.ndarray:
    """Compressor cycling: slow warm-up then a fast pull-down (a sawtooth around
    the setpoint, mean = setpoint), plus a small diurnal drift and sensor noise."""
    frac = np.mod(np.asarray(t) / p.period_s[i] + p.phase[i], 1.0)
    rise = 0.85  # 85 % of a cycle warming, 15 % compressor on
    saw = np.where(frac < rise, frac / rise, (1.0 - frac) / (1.0 - rise)) * 2.0 - 1.0
    drift = 0.25 * diurnal(t, p.lon[i])
    return p.base[i] + p.amp[i] * saw + drift + 0.08 * normal(seed, p.uid[i], seq, S_TEMP)


def humidity(p: SignalParams, i: np.ndarray, t: np.ndarray | float, seq: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Relative humidity and air temperature: anti-correlated diurnal cycles."""
    d = diurnal(t, p.lon[i])
    hum = np.clip(p.base[i] - 10.0 * d + 1.5 * normal(seed, p.uid[i], seq, S_HUM), 0.0, 100.0)
    temp = p.ambient_c[i] + 4.0 * d + 0.3 * normal(seed, p.uid[i], seq, S_AMB)
    return hum, temp


def vibration(p: SignalParams, i: np.ndarray, t: np.ndarray | float, seq: np.ndarray, seed: int) -> np.ndarray:
    """Conveyor vibration RMS: log-normal around the machine's baseline."""
    return np.clip(p.base[i] * np.exp(0.15 * normal(seed, p.uid[i], seq, S_VIB)), 0.0, 500.0)


def shock(p: SignalParams, i: np.ndarray, t: np.ndarray | float, seq: np.ndarray, seed: int) -> np.ndarray:
    """Peak acceleration: road noise most of the time, a rare handling bump.

    Normal handling (forklift set-down, a pothole) peaks at 1-3.5 g, below the
    5 g drop limit of the shock rule (`twin.alerts.catalogue.SHOCK_MAX_G`): a
    drop is a disruption, not part of a normal trip, so it is never generated
    here unless a scenario injects it."""
    u = p.uid[i]
    quiet = 0.3 + 0.2 * uniform(seed, u, seq, S_SHOCK)
    spike = uniform(seed, u, seq, S_SHOCK + 50) < p.prob[i]
    size = HANDLING_G_MIN + (HANDLING_G_MAX - HANDLING_G_MIN) * uniform(seed, u, seq, S_SHOCK_SIZE)
    return np.clip(np.where(spike, size, quiet), 0.0, 200.0)


def lane_progress(p: SignalParams, i: np.ndarray, t_eff: np.ndarray | float) -> np.ndarray:
    """Fraction of the lane covered: shipments move at lane length / transit time
    and a new shipment departs when one arrives (wraps at 1)."""
    return np.mod(p.phase[i] + np.asarray(t_eff) / p.lane_s[i], 1.0)


def gps(p: SignalParams, i: np.ndarray, t_eff: np.ndarray | float, seq: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Position interpolated between the lane's end nodes, with ~2 m fix jitter."""
    f = lane_progress(p, i, t_eff)
    jitter = 2e-5 * normal(seed, p.uid[i], seq, S_GPS)
    lat = np.clip(p.lat0[i] + f * (p.lat1[i] - p.lat0[i]) + jitter, -90.0, 90.0)
    lon = np.clip(p.lon0[i] + f * (p.lon1[i] - p.lon0[i]) + jitter, -180.0, 180.0)
    return lat, lon


def inventory(p: SignalParams, i: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Units on hand: drawn down at the demand rate, refilled to the top by a
    delivery every period (a sawtooth that never goes below zero)."""
    frac = np.mod(np.asarray(t) / p.period_s[i] + p.phase[i], 1.0)
    return np.maximum(0.0, np.floor(p.base[i] - p.amp[i] * frac * p.period_s[i]))


def inventory_at_outage(p: SignalParams, i: np.ndarray, t: np.ndarray | float, t_start: float) -> np.ndarray:
    """Inventory when deliveries stopped at ``t_start``: the level then, drained
    by demand ever since, floored at zero."""
    return np.maximum(0.0, inventory(p, i, t_start) - np.floor(p.amp[i] * (np.asarray(t) - t_start)))


def throughput(p: SignalParams, i: np.ndarray, t: np.ndarray | float, seq: np.ndarray, seed: int) -> np.ndarray:
    """Units/h: busier in the local afternoon, with shift-to-shift noise."""
    d = diurnal(t, p.lon[i])
    x = p.base[i] * (1.0 + 0.2 * d + 0.05 * normal(seed, p.uid[i], seq, S_THR))
    return np.clip(x, 0.0, 1_000_000.0)


def door(p: SignalParams, i: np.ndarray, t: np.ndarray | float, seq: np.ndarray, seed: int) -> np.ndarray:
    """Door open events, more likely in the working day."""
    d = diurnal(t, p.lon[i])
    return uniform(seed, p.uid[i], seq, S_DOOR) < p.prob[i] * (1.0 + 0.8 * d)


def battery(p: SignalParams, i: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Linear discharge, no noise: a reading may never show a battery recharging."""
    return np.clip(p.battery0[i] - p.battery_decay[i] * np.asarray(t), 0.0, 100.0)
