"""Signal models of the blind corpus for software services: cloud metrics, social mentions, ad-exchange prices.

WHY its own module: these series are made by fleets, users and auctions - autoscaling steps, deployments, cron
jobs, bursts nobody pages for - unlike the physical systems (bench/nab_blind_physical.py); the shared clock,
incident and nuisance helpers are in bench/nab_blind_signals.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bench.nab_blind_signals import (
    DAY_S, HOUR_S, Builder, Clock, Floats, Incident, Rng, ar1, bumps, deploys, per_day, pulses, quiet_rows, shape,
    starts, u, unknown, weekly,
)

# ---- cloud: one service's metrics at 5-minute resolution ----

def cpu_autoscaled(rng: Rng, clock: Clock, incidents: Sequence[Incident]) -> tuple[Floats, list[int]]:
    """Fleet-average CPU %: demand follows the day, the group adds and removes instances in steps (ordinary)."""
    n, quiet = clock.rows, quiet_rows(clock, incidents)
    demand = 0.25 + bumps(clock.hour, [(14.5, 3.5, 0.75), (20.5, 2.0, 0.3)])
    demand *= weekly(clock, 0.7) * u(rng, 3.0, 9.0)
    demand *= per_day(rng, clock, 0.08) * np.exp(ar1(rng, n, 0.97, 0.06))
    cooldown_rows, cool, per_instance = max(1, round(900.0 / clock.step_s)), 0, []
    instances = max(2, int(np.ceil(demand[0] / 0.55)))
    for need in demand.tolist():  # scale out above 72 %, in below 35 %, 15 minutes apart at most
        cool = max(0, cool - 1)
        if cool == 0 and need / instances > 0.72:
            instances, cool = instances + 1, cooldown_rows
        elif cool == 0 and need / instances < 0.35 and instances > 2:
            instances, cool = instances - 1, cooldown_rows
        per_instance.append(need / instances)
    cpu = 100.0 * np.array(per_instance) + rng.normal(0.0, 1.5, n)
    cpu += pulses(rng, clock, 5.0, lambda k: 6.0 * rng.pareto(1.6, k), clock.step_s, quiet)  # batch jobs
    return _cpu_incidents(rng, clock, incidents, cpu, "cpu_autoscaled"), starts(incidents)


def cpu_idle(rng: Rng, clock: Clock, incidents: Sequence[Incident]) -> tuple[Floats, list[int]]:
    """A mostly idle host: a few per cent, an hourly cron, and rare heavy-tailed bursts (a build, a backup)."""
    n, quiet = clock.rows, quiet_rows(clock, incidents)
    cpu = u(rng, 1.5, 4.0) * (1.0 + 0.4 * bumps(clock.hour, [(13.0, 4.0, 1.0)])) + rng.gamma(2.0, 0.4, n)
    cpu += np.where(clock.t % HOUR_S < clock.step_s, rng.uniform(8.0, 20.0, n), 0.0)
    cpu += pulses(rng, clock, 1.5, lambda k: np.minimum(10.0 * rng.pareto(1.3, k), 80.0), 2 * clock.step_s, quiet)
    return _cpu_incidents(rng, clock, incidents, cpu, "cpu_idle"), starts(incidents)


def _cpu_incidents(rng: Rng, clock: Clock, incidents: Sequence[Incident], cpu: Floats, base: str) -> Floats:
    for inc in incidents:
        if inc.kind == "saturation":  # a busy loop shipped: pinned at 100 % until someone restarts it
            env = shape(clock, inc, u(rng, 2.0, 6.0) * HOUR_S, rise_s=600.0)
            cpu = cpu * (1.0 - env) + env * rng.uniform(98.5, 100.0, clock.rows)
        elif inc.kind == "misconfig" and base == "cpu_autoscaled":  # a bad health check: the balancer
            env = shape(clock, inc, u(rng, 1.5, 4.0) * DAY_S)  # flaps, instances sit half idle, erratically
            cpu = cpu * (1.0 - env) + env * (cpu * u(rng, 0.3, 0.45) + np.abs(rng.normal(0.0, 9.0, clock.rows)))
        elif inc.kind == "misconfig":  # a bad config push: higher, much noisier, until rolled back
            env = shape(clock, inc, u(rng, 1.5, 4.0) * DAY_S)
            cpu = cpu + env * (0.8 * cpu + u(rng, 15.0, 25.0) + rng.normal(0.0, 6.0, clock.rows))
        else:
            raise unknown(inc, base)
    return np.clip(cpu, 0.2, 100.0)


def memory_utilization(rng: Rng, clock: Clock, incidents: Sequence[Incident]) -> tuple[Floats, list[int]]:
    """Used memory %: flat with a GC sawtooth; restarts at deploys drop it and the cache warms back (ordinary)."""
    n, quiet = clock.rows, quiet_rows(clock, incidents)
    level = u(rng, 35.0, 55.0)
    office = quiet & (clock.dow < 5) & (clock.hour > 10.0) & (clock.hour < 17.0)
    mem = level + ar1(rng, n, 0.995, 1.2) + 2.0 * ((clock.t / (u(rng, 20.0, 35.0) * 60.0)) % 1.0)
    mem += pulses(rng, clock, 0.5, lambda k: -rng.uniform(10.0, 18.0, k), 1.5 * HOUR_S, office)
    mem += rng.normal(0.0, 0.4, n)
    for inc in incidents:
        if inc.kind != "leak":
            raise unknown(inc, "memory_utilization")
        end = clock.end(inc.start, u(rng, 14.0, 40.0) * HOUR_S, inc.stop)  # climbs until the OOM killer
        ramp = (clock.t[inc.start:end] - clock.t[inc.start]) / max(clock.t[end - 1] - clock.t[inc.start], 1.0)
        mem[inc.start:end] += (u(rng, 93.0, 97.0) - level) * ramp
        mem[end:inc.stop] -= 15.0 * np.exp(-(clock.t[end:inc.stop] - clock.t[end - 1]) / (1.5 * HOUR_S))
    return np.clip(mem, 1.0, 99.5), starts(incidents)


def network_bytes(nightly_hour: float) -> Builder:
    """Bytes per interval on one interface: diurnal, heavy-tailed bursts, a nightly backup or sync transfer."""
    def build(rng: Rng, clock: Clock, incidents: Sequence[Incident]) -> tuple[Floats, list[int]]:
        n, quiet = clock.rows, quiet_rows(clock, incidents)
        peak = u(rng, 2e6, 4e7) * clock.step_s
        profile = 0.3 + bumps(clock.hour, [(11.0, 3.0, 0.6), (20.0, 2.5, 0.7)])
        level = peak * profile * weekly(clock, 0.8) * per_day(rng, clock, 0.1)
        level *= np.exp(ar1(rng, n, 0.95, 0.1) + rng.normal(0.0, 0.12, n)) * deploys(rng, clock, 0.3, 0.05, quiet)
        nightly = (clock.hour >= nightly_hour) & (clock.hour < nightly_hour + 0.7)
        level += np.where(nightly, peak * u(rng, 0.5, 1.5), 0.0)
        level += pulses(rng, clock, 4.0, lambda k: peak * np.minimum(0.4 * rng.pareto(1.5, k), 3.0), clock.step_s,
                        quiet)
        for inc in incidents:
            if inc.kind == "outage":  # the link or the service is down: health checks only
                env = shape(clock, inc, u(rng, 1.5, 4.0) * HOUR_S, fall_s=600.0)
                level *= 1.0 - env * u(rng, 0.99, 0.998)
            elif inc.kind == "surge":  # a crawler, a viral link, a DDoS: hours at several times the normal
                env = shape(clock, inc, u(rng, 4.0, 10.0) * HOUR_S, u(rng, 1200.0, 3600.0), HOUR_S)
                level *= 1.0 + env * u(rng, 1.5, 3.0)
            else:
                raise unknown(inc, "network_bytes")
        return level, starts(incidents)
    return build


def disk_write_bytes(rng: Rng, clock: Clock, incidents: Sequence[Incident]) -> tuple[Floats, list[int]]:
    """Bytes written per interval: noisy, checkpoints every 15 minutes, log rotation, rare huge compactions."""
    n, quiet = clock.rows, quiet_rows(clock, incidents)
    base = u(rng, 2e5, 1.5e6) * clock.step_s
    level = base * (0.6 + 0.4 * bumps(clock.hour, [(14.0, 4.0, 1.0)])) * np.exp(rng.normal(0.0, 0.5, n))
    level *= np.where(clock.t % 900.0 < clock.step_s, rng.uniform(3.0, 6.0, n), 1.0)
    level *= np.where(clock.hour < 0.25, 4.0, 1.0)
    level += pulses(rng, clock, 1.5, lambda k: base * np.minimum(8.0 * rng.pareto(1.2, k), 60.0), 1200.0, quiet)
    for inc in incidents:
        if inc.kind != "misconfig":  # debug logging left on: far more, far more erratic writes
            raise unknown(inc, "disk_write_bytes")
        env = shape(clock, inc, u(rng, 1.0, 3.0) * DAY_S)
        level *= 1.0 + env * (u(rng, 5.0, 9.0) * np.exp(rng.normal(0.0, 0.4, n)) - 1.0)
    return level, starts(incidents)


def request_latency_ms(rng: Rng, clock: Clock, incidents: Sequence[Incident]) -> tuple[Floats, list[int]]:
    """p95 latency: log-normal, a little slower at peak, GC and deploy spikes of a row or two (ordinary)."""
    n, quiet = clock.rows, quiet_rows(clock, incidents)
    base = u(rng, 60.0, 200.0)
    load = bumps(clock.hour, [(14.0, 4.0, 1.0)]) * weekly(clock, 0.6)
    lat = base * (1.0 + 0.3 * load) * np.exp(ar1(rng, n, 0.9, 0.08) + rng.normal(0.0, 0.1, n))
    lat *= deploys(rng, clock, 0.3, 0.08, quiet)
    lat += pulses(rng, clock, 4.0, lambda k: base * (1.5 + 3.0 * rng.pareto(2.0, k)), 0.7 * clock.step_s, quiet)
    for inc in incidents:
        if inc.kind != "degradation":  # a pool or a disk filling up: slower and slower, then timeouts
            raise unknown(inc, "request_latency_ms")
        slow_s, down_s = u(rng, 2.0, 6.0) * HOUR_S, u(rng, 0.5, 1.5) * HOUR_S
        mid, end = clock.end(inc.start, slow_s, inc.stop), clock.end(inc.start, slow_s + down_s, inc.stop)
        lat[inc.start:mid] *= u(rng, 8.0, 20.0) ** ((clock.t[inc.start:mid] - clock.t[inc.start]) / slow_s)
        lat[mid:end] = 30_000.0 * rng.uniform(0.93, 1.0, end - mid)  # the client's 30 s timeout
    return np.minimum(lat, 30_000.0), starts(incidents)


def request_count(rng: Rng, clock: Clock, incidents: Sequence[Incident]) -> tuple[Floats, list[int]]:
    """Requests per interval: a business-day profile, quieter weekends, growth, marketing pushes (ordinary)."""
    n, quiet = clock.rows, quiet_rows(clock, incidents)
    profile = 0.25 + bumps(clock.hour, [(10.5, 2.5, 0.8), (15.0, 3.0, 0.9), (21.0, 2.0, 0.5)])
    lam = u(rng, 300.0, 3000.0) * profile * weekly(clock, 0.65)
    lam *= (1.0 + u(rng, 0.0, 0.15) * np.linspace(0.0, 1.0, n)) * deploys(rng, clock, 0.3, 0.04, quiet)
    lam *= (1.0 + pulses(rng, clock, 0.3, lambda k: rng.uniform(0.3, 0.6, k), 1800.0, quiet))
    lam *= np.exp(rng.normal(0.0, 0.05, n))
    for inc in incidents:
        if inc.kind == "outage":
            lam *= 1.0 - shape(clock, inc, u(rng, 1.0, 3.0) * HOUR_S) * u(rng, 0.97, 1.0)
        elif inc.kind == "surge":
            lam *= 1.0 + shape(clock, inc, u(rng, 3.0, 8.0) * HOUR_S, 1800.0, HOUR_S) * u(rng, 1.5, 3.0)
        elif inc.kind == "misconfig":  # a retry policy without backoff: more calls, in waves
            env = shape(clock, inc, u(rng, 0.7, 2.0) * DAY_S)
            lam *= 1.0 + env * u(rng, 0.8, 1.5) * np.exp(rng.normal(0.0, 0.5, n))
        else:
            raise unknown(inc, "request_count")
    return rng.poisson(lam).astype(float), starts(incidents)


# ---- social: mentions of one company per 5 minutes ----

def mention_count(rng: Rng, clock: Clock, incidents: Sequence[Incident]) -> tuple[Floats, list[int]]:
    """Mentions: small overdispersed counts on a US day, slow popularity drift, small retweet chains (ordinary)."""
    n, quiet = clock.rows, quiet_rows(clock, incidents)
    base = u(rng, 0.8, 10.0)
    lam = base * (0.12 + bumps(clock.hour, [(13.0, 4.0, 1.0), (20.5, 2.5, 0.6)]))
    lam *= weekly(clock, 0.75) * per_day(rng, clock, 0.15) * np.exp(ar1(rng, n, 0.999, 0.15))
    lam += pulses(rng, clock, 1.5, lambda k: base * rng.lognormal(1.0, 0.4, k), u(rng, 900, 2700), quiet)
    for inc in incidents:
        if inc.kind == "news_burst":  # a story breaks: a jump to tens of times the usual, decaying for hours
            tau_s = u(rng, 1.5, 4.0) * HOUR_S
            env = shape(clock, inc, 8.0 * tau_s, rise_s=u(rng, 300, 1200))
            since = np.maximum(clock.t - clock.t[inc.start], 0.0)
            lam += env * max(25.0, base * u(rng, 15.0, 40.0)) * np.exp(-since / tau_s)
        elif inc.kind == "elevated":  # a controversy or launch: days at several times the usual level
            lam *= 1.0 + shape(clock, inc, u(rng, 1.0, 3.0) * DAY_S, 2 * HOUR_S, 6 * HOUR_S) * u(rng, 3.0, 5.0)
        else:
            raise unknown(inc, "mention_count")
    return rng.poisson(rng.gamma(4.0, lam / 4.0)).astype(float), starts(incidents)


# ---- adexchange: hourly auction prices ----

def ad_price(low: float, high: float) -> Builder:
    """Hourly clearing price: skewed, dearer in the evening, noisier in thin night auctions, lone odd hours."""
    def build(rng: Rng, clock: Clock, incidents: Sequence[Incident]) -> tuple[Floats, list[int]]:
        n, quiet = clock.rows, quiet_rows(clock, incidents)
        night = bumps(clock.hour, [(4.0, 3.0, 1.0)])
        log_p = np.log(u(rng, low, high)) + 0.12 * bumps(clock.hour, [(20.0, 3.0, 1.0)]) - 0.08 * night
        log_p += np.log(weekly(clock, 0.92)) + ar1(rng, n, 0.995, 0.12)
        log_p += np.clip(rng.standard_t(4.0, n), -4.0, 4.0) * 0.75 * (0.15 + 0.12 * night)
        log_p += np.where(quiet & (rng.random(n) < 0.006), rng.uniform(0.4, 0.8, n), 0.0)
        for inc in incidents:
            if inc.kind == "price_spike":  # a bidder's bug or a bidding war: hours at several times the price
                log_p += shape(clock, inc, u(rng, 2.0, 6.0) * HOUR_S, fall_s=HOUR_S) * np.log(u(rng, 4.0, 8.0))
            elif inc.kind == "level_drop":  # a big buyer leaves the exchange: the level halves for days
                log_p -= shape(clock, inc, u(rng, 5.0, 12.0) * DAY_S, rise_s=3 * HOUR_S) * u(rng, 0.7, 1.0)
            elif inc.kind == "variance":  # an erratic new bidder: the same level, far wider swings
                env = shape(clock, inc, u(rng, 3.0, 8.0) * DAY_S)
                log_p += env * rng.normal(0.0, u(rng, 0.45, 0.6), n)
            else:
                raise unknown(inc, "ad_price")
        return np.exp(log_p), starts(incidents)
    return build
