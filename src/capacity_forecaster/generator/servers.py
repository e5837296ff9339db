"""Per-server parameters of a synthetic fleet, drawn once from the fleet seed."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from capacity_forecaster.generator.archetypes import (
    ARCHETYPES,
    ENVIRONMENT_LEVEL,
    ENVIRONMENT_SHARES,
    ENVIRONMENTS,
    METRIC_BEHAVIOUR,
    SIMULATED_METRICS,
    behaviour_vector,
    metric_vector,
)

HOT_SHARE = 0.12  # fast-growing services that outgrow their hosts
HOT_GROWTH = (0.15, 0.35)
BURSTS_PER_YEAR = (0.3, 1.0)  # median and log-sd: most servers rarely burst, a few often
REGIME_SHIFTS_PER_YEAR = 1.0  # workload moves (deploys, migrations, tenants added/removed)
NOISY_WEEKS_PER_YEAR = 3.0
OUTAGES_PER_YEAR = 5.0  # agent outages of hours
MISSING_SPELLS_PER_YEAR = 1.5  # whole days without data (agent down, host rebuilt)
ON_OFF_IDLE_FACTOR = 0.35  # job servers idle between jobs
MEMORY_SOFT_CAP = 70.0
MEMORY_HEAVY_JOBS = 0.3  # share of job servers whose jobs fill memory
MEMORY_HEAVY_JOB_PCT = (62.0, 80.0)


@dataclass
class Servers:
    """Arrays indexed by server position; (S, M) arrays follow SIMULATED_METRICS."""

    ids: list[str]
    archetype: np.ndarray  # (S,) index into ARCHETYPES
    environment: np.ndarray  # (S,) index into ENVIRONMENTS
    instance_type: list[str]  # at commissioning
    level_p95: np.ndarray  # (S, M) typical daily P95 at the fleet's start, percent
    day_sigma: np.ndarray  # (S, M) log-sd of day noise
    wander_sigma: np.ndarray  # (S, M) log-sd of the slow wander
    growth: np.ndarray  # (S,) annual growth fraction
    compound: np.ndarray  # (S,) bool
    hot: np.ndarray  # (S,) bool
    burst_rate: np.ndarray  # (S,) bursts per day
    on_off: np.ndarray  # (S,) bool: job server
    p_stay_on: np.ndarray  # (S,)
    p_stay_off: np.ndarray  # (S,)
    on_level: np.ndarray  # (S, M) daily P95 on job days
    creep: np.ndarray  # (S,) bool: memory creeps until restarted
    creep_per_day: np.ndarray  # (S,) relative memory growth per day since the last restart
    restart_rate: np.ndarray  # (S,) planned restarts per day
    maintenance_hour: np.ndarray  # (S,) UTC hour of the quiet-time job (backup, cron, scans)
    maintenance_pct: np.ndarray  # (S, M) what it adds to that hour, percentage points
    first_day: np.ndarray  # (S,) commissioned day index
    last_day: np.ndarray  # (S,) exclusive decommission day index (total_days = never)
    outages: list[tuple[int, int, int]]  # (server, start hour, end hour exclusive)


def stratified_normal(rng: np.random.Generator, n: int) -> np.ndarray:
    """n standard-normal draws, one from each of n equal-probability strata, shuffled: even a
    16-server fleet spans idle to busy like a large one."""
    u = (rng.permutation(n) + rng.random(n)) / n
    inv = NormalDist().inv_cdf
    return np.array([inv(min(max(p, 1e-9), 1 - 1e-9)) for p in u])


def exact_share(rng: np.random.Generator, group: np.ndarray, shares: list[float]) -> np.ndarray:
    """Flag round(share x size) random members of each group (randomised rounding), so a
    small fleet holds its share of job servers, hot services... rather than a coin-flip's."""
    flags = np.zeros(len(group), dtype=bool)
    for g, share in enumerate(shares):
        members = np.flatnonzero(group == g)
        k = int(np.floor(share * len(members) + rng.random()))
        flags[rng.permutation(members)[:k]] = True
    return flags


def draw_servers(n: int, days: int, total_days: int, rng: np.random.Generator) -> Servers:
    shares = np.array([a.share for a in ARCHETYPES])
    counts = np.floor(shares * n).astype(int)
    counts[np.argsort(-(shares * n - counts))[: n - counts.sum()]] += 1
    archetype = rng.permutation(np.repeat(np.arange(len(ARCHETYPES)), counts))
    arch = [ARCHETYPES[a] for a in archetype]
    environment = rng.choice(len(ENVIRONMENTS), n, p=ENVIRONMENT_SHARES)
    instance_type = [str(rng.choice(a.instance_types)) for a in arch]

    # Levels: lognormal around the archetype median, sharing one load factor across metrics
    # (a busy server is busy on every metric), stratified so small fleets keep the shape.
    behaviour = list(METRIC_BEHAVIOUR.values())
    sigma, sigma_low = behaviour_vector("level_sigma"), behaviour_vector("level_sigma_low")
    loading = behaviour_vector("load_loading")
    load = stratified_normal(rng, n)
    own = rng.standard_normal((n, len(behaviour)))
    z = loading * load[:, None] + np.sqrt(1 - loading**2) * own
    median = np.stack([metric_vector(a.level_p95) for a in arch])
    level = median * np.exp(np.where(z > 0, sigma, sigma_low) * z)
    level *= np.array(ENVIRONMENT_LEVEL)[environment][:, None]

    on_off = exact_share(rng, archetype, [a.on_off_share for a in ARCHETYPES])
    level[on_off] *= ON_OFF_IDLE_FACTOR
    # Memory rarely sits near full in steady state (heap limits, caches that give way).
    mem = SIMULATED_METRICS.index("memory")
    level[:, mem] = MEMORY_SOFT_CAP * np.tanh(level[:, mem] / MEMORY_SOFT_CAP)
    level = np.clip(level, 0.2, 92.0)
    on_level = np.stack([rng.uniform(*b.job_day_pct, n) for b in behaviour], axis=1)
    # most jobs hold modest memory; some (in-memory analytics, caches) fill it on every run
    heavy = exact_share(rng, on_off.astype(int), [0.0, MEMORY_HEAVY_JOBS])
    mem_heavy = rng.uniform(*MEMORY_HEAVY_JOB_PCT, n)
    on_level[heavy, mem] = mem_heavy[heavy]

    noise_scale = rng.lognormal(0.0, 0.35, (n, 1))  # some servers are steadier than others
    day_sigma = behaviour_vector("day_sigma") * noise_scale
    wander_sigma = behaviour_vector("wander_sigma") * noise_scale

    lo = np.array([a.growth_per_year[0] for a in arch])
    hi = np.array([a.growth_per_year[1] for a in arch])
    growth = rng.uniform(lo, hi)
    hot = exact_share(rng, np.zeros(n, dtype=int), [HOT_SHARE])
    growth[hot] = rng.uniform(*HOT_GROWTH, hot.sum())
    compound = rng.random(n) < 0.5

    creep = exact_share(rng, archetype, [a.creep_share for a in ARCHETYPES])

    # Lifecycle: most servers run the whole window; some are commissioned late (a few with
    # a very short history, to exercise cold start) and some are decommissioned early.
    first_day = np.zeros(n, dtype=int)
    last_day = np.full(n, total_days, dtype=int)
    order = rng.permutation(n)
    n_late, n_new, n_gone = round(0.10 * n), max(1, round(0.03 * n)), round(0.05 * n)
    late, new = order[:n_late], order[n_late : n_late + n_new]
    gone = order[n_late + n_new : n_late + n_new + n_gone]
    if days > 120:
        first_day[late] = rng.integers(30, days - 90, late.size)
    if days > 25:
        first_day[new] = rng.integers(days - 21, days - 10, new.size)
    if days > 60:
        last_day[gone] = rng.integers(days // 2, days - 30, gone.size)

    return Servers(
        ids=[f"srv-{i + 1:04d}" for i in range(n)],
        archetype=archetype,
        environment=environment,
        instance_type=instance_type,
        level_p95=level,
        day_sigma=day_sigma,
        wander_sigma=wander_sigma,
        growth=growth,
        compound=compound,
        hot=hot,
        burst_rate=rng.lognormal(np.log(BURSTS_PER_YEAR[0]), BURSTS_PER_YEAR[1], n) / 365.25,
        on_off=on_off,
        p_stay_on=rng.uniform(0.6, 0.9, n),
        p_stay_off=rng.uniform(0.45, 0.85, n),
        on_level=on_level,
        creep=creep,
        creep_per_day=rng.uniform(0.004, 0.03, n),
        restart_rate=np.where(creep, 1 / rng.uniform(10, 60, n), 1 / rng.uniform(30, 180, n)),
        maintenance_hour=(np.array([a.peak_hour_utc for a in arch]) + 12 + rng.integers(-3, 4, n)) % 24,
        # a job for about an hour in the quiet time, some 12 hours from the peak (backup, log
        # rotation, scans): it shows in the hour-of-day profile, not in the daily P95 (a
        # quantile over 24 hours ignores the top hour)
        maintenance_pct=behaviour_vector("quiet_job_pct") * rng.lognormal(0.0, 0.3, (n, len(behaviour))),
        first_day=first_day,
        last_day=last_day,
        outages=_outages(n, total_days, rng),
    )


def _outages(n: int, total_days: int, rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """Agent outages of hours, and spells of whole missing days."""
    outages: list[tuple[int, int, int]] = []
    years = total_days / 365.25
    short = rng.poisson(OUTAGES_PER_YEAR * years, n)
    spells = rng.poisson(MISSING_SPELLS_PER_YEAR * years, n)
    for s in range(n):
        starts = rng.integers(0, total_days * 24, short[s])
        lengths = np.minimum(rng.geometric(1 / 6, short[s]), 48)
        outages.extend((s, int(a), int(a + b)) for a, b in zip(starts, lengths, strict=True))
        first = rng.integers(0, total_days, spells[s]) * 24
        days = np.minimum(rng.geometric(0.45, spells[s]), 10) * 24
        outages.extend((s, int(a), int(a + b)) for a, b in zip(first, days, strict=True))
    return outages
