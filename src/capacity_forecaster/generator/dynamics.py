"""Daily world of a synthetic fleet: the expected daily P95 of every server x metric x day.

Steady demand = level x growth x calendar x exp(workload moves + slow wander + heavy-tailed
day noise). On top, in utilisation terms (jobs use whatever they are given): bursts that take
a server from idle to saturated for a day or two, and job servers alternating saturated and
idle days. Memory creeps until a restart resets it. A day loop then plays the operator:
a server whose daily P95 has sat near its ceiling for a while is upgraded to a bigger
instance or rebalanced, after a reaction delay, and its utilisation drops by the ratio.
All arrays are (days, servers, metrics) in SIMULATED_METRICS order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from capacity_forecaster.generator.archetypes import (
    ARCHETYPES,
    SIMULATED_METRICS,
    behaviour_vector,
    cholesky,
)
from capacity_forecaster.generator.instances import INSTANCE_TYPES, upgrade_for
from capacity_forecaster.generator.servers import (
    NOISY_WEEKS_PER_YEAR,
    REGIME_SHIFTS_PER_YEAR,
    Servers,
)

MONTH_END_DAYS = 3
QUARTER_END_DAYS = 7
DAY_NOISE_DF = 3.0  # Student-t degrees of freedom of day noise: rare huge days
MEMORY_MAX = 0.995
NOISY_WEEK_FACTOR = 2.5
REGIME_KEEP, REGIME_SD = 0.4, 0.55  # a move keeps 40 % of the old offset, adds N(0, 0.55)
OOM_LEVEL = 75.0  # heap limits sit near 75 % of host memory (e.g. MaxRAMPercentage): OOM, restart
OOM_RESTART_P = 0.9  # chance a server that full is restarted that day
MEMORY = SIMULATED_METRICS.index("memory")
CPU = SIMULATED_METRICS.index("cpu")
RESTART_COLD = (0.2, 0.6)  # memory the day after a restart, share of the warm level
RESTART_REFILL = 0.5  # share of the gap refilled each day (caches, heaps warming up)
# The operator: a metric whose daily P95 averaged >= SATURATED_PCT (memory: its working
# set, which restarts keep below the OOM level, see below) over the last
# SATURATION_WINDOW days triggers an upgrade (or rebalance) after a reaction delay.
SATURATED_PCT = np.array([OOM_LEVEL if m == "memory" else 93.0 for m in SIMULATED_METRICS], dtype=np.float32)
SATURATION_WINDOW = 14
REACTION_DAYS = (10.0, 0.7)  # lognormal median and log-sd
JOB_RUSH = 1.0  # chance a job server runs on each of the month's / quarter's closing days
UPGRADE_SHARE = 0.65  # the rest are rebalanced (workload moved to other hosts)
REBALANCE_KEEP = (0.45, 0.7)  # share of the load that stays


@dataclass
class CapacityEvent:
    server: int
    day: int  # first day at the new size / load
    kind: str  # upgrade or rebalance
    trigger_metrics: tuple[str, ...]
    from_type: str
    to_type: str
    factor: np.ndarray  # (M,) utilisation multiplier (< 1)


@dataclass
class World:
    level: np.ndarray  # (T, S, M) float32 expected daily P95, percent of current capacity
    flat: np.ndarray  # (T, S) bool: job or burst day, load flat through the day
    events: list[CapacityEvent]
    moves: np.ndarray  # (T, S) bool: a workload move (level shift) that day


def day_calendar(start: dt.date, n_days: int, holidays: set[str]) -> dict[str, np.ndarray]:
    """Calendar arrays for day indexes 0..n_days-1 from `start`."""
    dates = np.datetime64(start, "D") + np.arange(n_days).astype("timedelta64[D]")
    months = dates.astype("datetime64[M]")
    month_end = (months + 1).astype("datetime64[D]") - 1
    month_num = months.astype(int) % 12  # 0 = January
    quarter_end = (months - (month_num % 3) + 3).astype("datetime64[D]") - 1
    to_month_end = (month_end - dates).astype(int)
    to_quarter_end = (quarter_end - dates).astype(int)
    mmdd = np.array([str(d)[5:] for d in dates])
    return {
        "weekend": (dates.view("int64") - 4) % 7 >= 5,  # 1970-01-01 was a Thursday
        "doy": (dates - dates.astype("datetime64[Y]")).astype(int),
        "month_end_ramp": np.where(to_month_end < MONTH_END_DAYS, 1 - to_month_end / MONTH_END_DAYS, 0.0),
        "quarter_end_ramp": np.where(
            to_quarter_end < QUARTER_END_DAYS, 1 - to_quarter_end / (QUARTER_END_DAYS + 1), 0.0
        ),
        "holiday": np.isin(mmdd, sorted(holidays)),
    }


def _calendar_factor(srv: Servers, cal: dict[str, np.ndarray]) -> np.ndarray:
    """(T, S, M) multiplier from weekends, month/quarter ends, the year and holidays."""
    arch = [ARCHETYPES[a] for a in srv.archetype]
    attr = lambda name: np.array([getattr(a, name) for a in arch])  # noqa: E731
    weekend = np.where(cal["weekend"][:, None], attr("weekend_factor"), 1.0)
    yearly = 1 + attr("yearly_amp") * np.cos(
        2 * np.pi * (cal["doy"][:, None] - attr("yearly_peak_doy")) / 365.25
    )
    month_end = 1 + cal["month_end_ramp"][:, None] * attr("month_end_uplift")
    quarter_end = 1 + cal["quarter_end_ramp"][:, None] * attr("quarter_end_uplift")
    holiday_drop = np.where(srv.archetype == 3, 0.95, 0.65)  # batch jobs run on holidays
    holiday = np.where(cal["holiday"][:, None], holiday_drop, 1.0)
    factor = weekend * yearly * month_end * quarter_end * holiday  # (T, S)
    strength = behaviour_vector("calendar_strength")
    return (1 + strength * (factor[:, :, None] - 1)).astype(np.float32)


def _growth(srv: Servers, n_days: int) -> np.ndarray:
    years = (np.arange(n_days, dtype=np.float32) / 365.25)[:, None, None]
    strength = behaviour_vector("growth_strength")
    rate = (srv.growth[:, None] * strength).astype(np.float32)
    compound = (1 + rate) ** years
    linear = np.maximum(1 + rate * years, 0.2)
    return np.where(srv.compound[None, :, None], compound, linear)


def _correlated_normals(rng: np.random.Generator, srv: Servers, n_days: int) -> np.ndarray:
    z = rng.standard_normal((n_days, len(srv.ids), len(SIMULATED_METRICS)), dtype=np.float32)
    for a_idx, spec in enumerate(ARCHETYPES):
        cols = srv.archetype == a_idx
        z[:, cols, :] = z[:, cols, :] @ cholesky(spec).T.astype(np.float32)
    return z


def _day_noise(srv: Servers, n_days: int, rng: np.random.Generator) -> np.ndarray:
    """Independent day noise (T, S, M): heavy-tailed, correlated across metrics, with noisy
    weeks. Log scale for most metrics, logit scale for memory (see simulate_world)."""
    n = len(srv.ids)
    z = _correlated_normals(rng, srv, n_days)
    # Multivariate Student-t with unit variance: one scale per server-day keeps the metric
    # correlation while letting a few days land far out.
    chi = rng.chisquare(DAY_NOISE_DF, (n_days, n)).astype(np.float32)
    scale = np.sqrt((DAY_NOISE_DF - 2) / np.maximum(chi, 1e-3))
    noisy = rng.random((n_days, n)) < NOISY_WEEKS_PER_YEAR / 365.25
    noisy_week = np.zeros((n_days + 7, n), dtype=np.float32)
    for offset in range(7):
        noisy_week[offset : offset + n_days] += noisy
    scale *= np.where(noisy_week[:n_days] > 0, NOISY_WEEK_FACTOR, 1.0).astype(np.float32)
    clip = behaviour_vector("day_clip")
    return np.clip(z * scale[:, :, None], -clip, clip) * srv.day_sigma.astype(np.float32)


def _wander(srv: Servers, n_days: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Persistent log offsets (T, S, M): a slow AR(1) wander plus workload moves (level
    shifts at random days, the (T, S) mask returned)."""
    n = len(srv.ids)
    log = np.empty((n_days, n, len(SIMULATED_METRICS)), dtype=np.float32)
    ar_z = _correlated_normals(rng, srv, n_days)
    phi = behaviour_vector("wander_phi")
    ar_sd = srv.wander_sigma.astype(np.float32)
    innovation = np.sqrt(1 - phi**2)
    moves = rng.random((n_days, n)) < REGIME_SHIFTS_PER_YEAR / 365.25
    shocks = rng.normal(0.0, REGIME_SD, (n_days, n)).astype(np.float32)
    regime_strength = behaviour_vector("regime_strength")
    state = ar_z[0] * ar_sd
    offset = np.zeros(n, dtype=np.float32)
    for d in range(n_days):
        state = phi * state + innovation * ar_z[d] * ar_sd
        offset = np.where(moves[d], REGIME_KEEP * offset + shocks[d], offset)
        log[d] = state + offset[:, None] * regime_strength
    return log, moves


def _jobs_and_bursts(
    srv: Servers, cal: dict[str, np.ndarray], n_days: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Utilisation floors (T, S, M) from job days and bursts, and the flat-day mask (T, S)."""
    n, m = len(srv.ids), len(SIMULATED_METRICS)
    floor = np.zeros((n_days, n, m), dtype=np.float32)
    flat = np.zeros((n_days, n), dtype=bool)

    # Job servers: a two-state Markov chain per day; month and quarter ends call the jobs in.
    rush = np.where((cal["month_end_ramp"] > 0) | (cal["quarter_end_ramp"] > 0), JOB_RUSH, 0.0)
    u = rng.random((n_days, n))
    jitter = rng.lognormal(0.0, 0.2, (n_days, n, m)).astype(np.float32)
    jitter[:, :, CPU] = rng.uniform(0.97, 1.03, (n_days, n))
    jitter[:, :, MEMORY] = rng.lognormal(0.0, 0.12, (n_days, n))
    state = rng.random(n) < 0.5
    for d in range(n_days):
        p_on = np.where(state, srv.p_stay_on, 1 - srv.p_stay_off)
        state = srv.on_off & (u[d] < np.maximum(p_on, rush[d]))
        floor[d, state] = srv.on_level[state] * jitter[d, state]
        flat[d, state] = True

    # Bursts: idle to busy or saturated for a day or two, all metrics following CPU.
    starts = np.argwhere(rng.random((n_days, n)) < srv.burst_rate)
    lengths = np.minimum(rng.geometric(0.6, len(starts)), 5)
    peak = rng.uniform(30, 100, len(starts))
    follow = rng.uniform(0.3, 0.95, (len(starts), m))
    follow[:, MEMORY] = rng.uniform(0.1, 0.6, len(starts))
    follow[:, CPU] = 1.0
    for (d, s), length, top, share in zip(starts, lengths, peak, follow, strict=True):
        days = slice(d, min(d + length, n_days))
        floor[days, s] = np.maximum(floor[days, s], top * share)
        flat[days, s] |= top >= 70
    return floor, flat


class _Operator:
    """Watches each server's steady daily P95 over a rolling window; a saturated metric
    opens a ticket that is acted on after a reaction delay: an upgrade to the next instance
    (utilisation drops by the size ratio) or a rebalance (part of the load moves away)."""

    def __init__(self, srv: Servers, n_days: int, rng: np.random.Generator) -> None:
        n, m = len(srv.ids), len(SIMULATED_METRICS)
        self.instance = list(srv.instance_type)
        self.capacity = np.ones((n, m), dtype=np.float32)  # relative to commissioning
        self.window = np.zeros((SATURATION_WINDOW, n, m), dtype=np.float32)
        self.window_sum = np.zeros((n, m), dtype=np.float32)
        self.due = np.full(n, -1)  # day a ticket is acted on
        self.ticket = np.zeros((n, m), dtype=bool)  # metrics saturated when it was opened
        self.quiet_until = srv.first_day + SATURATION_WINDOW  # a full window of evidence first
        self.events: list[CapacityEvent] = []
        draws = n_days // SATURATION_WINDOW + 2  # at most one event per window per server
        self.delay = np.ceil(rng.lognormal(np.log(REACTION_DAYS[0]), REACTION_DAYS[1], (draws, n)))
        self.upgrade = rng.random((draws, n)) < UPGRADE_SHARE
        self.keep = rng.uniform(*REBALANCE_KEEP, (draws, n)).astype(np.float32)
        self.count = np.zeros(n, dtype=int)

    def observe(self, d: int, signal: np.ndarray, alive: np.ndarray) -> None:
        """`signal` (S, M): the day's steady daily P95 the operator sees, percent."""
        slot = d % SATURATION_WINDOW
        self.window_sum += signal - self.window[slot]
        self.window[slot] = signal
        saturated = self.window_sum / SATURATION_WINDOW >= SATURATED_PCT
        opened = saturated.any(axis=1) & (self.due < 0) & alive & (d >= self.quiet_until)
        idx = np.flatnonzero(opened)
        self.due[idx] = d + self.delay[self.count[idx], idx].astype(int)
        self.ticket[idx] = saturated[idx]
        for s in np.flatnonzero(self.due == d):
            self._act(int(s), d + 1)

    def _act(self, s: int, day: int) -> None:
        metrics = tuple(m for m, hot in zip(SIMULATED_METRICS, self.ticket[s], strict=True) if hot)
        k = self.count[s]
        new = upgrade_for(self.instance[s], memory_only=metrics == ("memory",))
        if new is not None and self.upgrade[k, s]:
            (v0, m0), (v1, m1) = INSTANCE_TYPES[self.instance[s]], INSTANCE_TYPES[new]
            factor = np.full(len(SIMULATED_METRICS), v0 / v1, dtype=np.float32)
            factor[MEMORY] = m0 / m1
            kind = "upgrade"
        else:
            new = self.instance[s]
            factor = np.full(len(SIMULATED_METRICS), self.keep[k, s], dtype=np.float32)
            kind = "rebalance"
        self.events.append(CapacityEvent(s, day, kind, metrics, self.instance[s], new, factor))
        self.instance[s] = new
        self.capacity[s] /= factor
        self.due[s] = -1
        self.quiet_until[s] = day + SATURATION_WINDOW
        self.count[s] = min(k + 1, self.delay.shape[0] - 1)


def simulate_world(
    srv: Servers, start: dt.date, n_days: int, holidays: set[str], rng: np.random.Generator
) -> World:
    n = len(srv.ids)
    cal = day_calendar(start, n_days, holidays)
    wander, moves = _wander(srv, n_days, rng)
    steady = srv.level_p95.astype(np.float32) * _growth(srv, n_days) * np.exp(wander)
    del wander
    steady *= _calendar_factor(srv, cal)
    noise = _day_noise(srv, n_days, rng)
    log_scale = np.arange(len(SIMULATED_METRICS)) != MEMORY
    floor, flat = _jobs_and_bursts(srv, cal, n_days, rng)
    operator = _Operator(srv, n_days, rng)

    creep = np.zeros(n, dtype=np.float32)  # relative memory growth since the last restart
    warm = np.ones(n, dtype=np.float32)  # memory refilling after a restart
    cold_start = rng.uniform(*RESTART_COLD, (n_days, n)).astype(np.float32)
    restart_u = rng.random((n_days, n))
    oom_u = rng.random((n_days, n))
    level = steady  # overwritten day by day with the utilisation that results
    for d in range(n_days):
        alive = (srv.first_day <= d) & (d < srv.last_day)
        demand = steady[d].copy()
        working_set = np.minimum(demand[:, MEMORY] / operator.capacity[:, MEMORY], 100.0)
        demand[:, MEMORY] *= (1 + creep) * warm
        util = demand / operator.capacity
        util[:, log_scale] *= np.exp(noise[d][:, log_scale])
        # Memory is bounded (a process cannot hold more than the host has; it swaps or is
        # killed), so its noise acts on the logit scale and shrinks near full.
        share = np.clip(util[:, MEMORY] / 100, 1e-4, MEMORY_MAX)
        util[:, MEMORY] = 100 / (1 + (1 - share) / share * np.exp(-noise[d][:, MEMORY]))
        level[d] = np.maximum(util, floor[d])

        # Creep until a planned restart or an OOM near full; the restart empties caches.
        creep = np.where(srv.creep & alive, creep + srv.creep_per_day, creep)
        oom = (level[d, :, MEMORY] >= OOM_LEVEL) & (oom_u[d] < OOM_RESTART_P)
        restart = oom | (restart_u[d] < srv.restart_rate)
        creep[restart] = 0.0
        warm = np.where(restart, cold_start[d], warm + (1 - warm) * RESTART_REFILL)

        # The operator watches steady load (job days and bursts are expected to run hot);
        # for memory, the working set before creep and restarts (an OOM loop shows there).
        signal = np.minimum(util, 100.0)
        signal[:, MEMORY] = working_set
        operator.observe(d, signal, alive)
    return World(level=level, flat=flat, events=operator.events, moves=moves)
