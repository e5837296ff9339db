"""Server behaviour: the metrics the generator can simulate and the five workload archetypes.

Levels are calibrated against real VMs (bench/realism.py): most servers idle, a long tail of
busy ones. Per-metric values are keyed by metric name; arrays inside the generator follow the
order of `METRIC_BEHAVIOUR` (the simulated world always has every metric, a fleet writes the
ones the project vars ask for).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MetricBehaviour:
    level_sigma: float  # log-sd of server levels above the archetype median (the busy tail)
    level_sigma_low: float  # log-sd below it (environments and job servers add the idle end)
    load_loading: float  # correlation of the log level with the server's shared load factor
    day_sigma: float  # typical log-sd of independent day-to-day noise
    day_clip: float  # day noise is cut at this many standard deviations
    wander_sigma: float  # log-sd of the slow AR(1) wander around the level
    wander_phi: float  # its day-to-day persistence
    calendar_strength: float  # how much weekends, month/quarter ends and holidays move it
    growth_strength: float  # multiplier on the server's growth rate
    regime_strength: float  # share of a workload move (log) this metric follows
    job_day_pct: tuple[float, float]  # range of a job server's daily P95 on job days
    quiet_job_pct: float  # what the quiet-time job (backup, scans) adds to its hour, points


# Memory is mostly resident state: it barely follows the calendar or moved workload, wanders
# slowly, and its day noise is held near the working set (creep and restarts make its big
# moves, see dynamics.py). CPU jobs saturate whatever they run on.
METRIC_BEHAVIOUR: dict[str, MetricBehaviour] = {
    "cpu": MetricBehaviour(
        level_sigma=1.6, level_sigma_low=0.8, load_loading=0.95, day_sigma=0.15, day_clip=4.0,
        wander_sigma=0.16, wander_phi=0.88, calendar_strength=1.0, growth_strength=1.0,
        regime_strength=1.0, job_day_pct=(90, 99), quiet_job_pct=8.0,
    ),
    "memory": MetricBehaviour(
        level_sigma=0.85, level_sigma_low=0.85, load_loading=0.45, day_sigma=0.26, day_clip=2.5,
        wander_sigma=0.25, wander_phi=0.98, calendar_strength=0.35, growth_strength=1.15,
        regime_strength=0.5, job_day_pct=(15, 55), quiet_job_pct=0.0,
    ),
    "disk_io": MetricBehaviour(
        level_sigma=1.1, level_sigma_low=0.7, load_loading=0.8, day_sigma=0.25, day_clip=4.0,
        wander_sigma=0.16, wander_phi=0.85, calendar_strength=0.8, growth_strength=0.9,
        regime_strength=0.9, job_day_pct=(30, 85), quiet_job_pct=12.0,
    ),
    "network": MetricBehaviour(
        level_sigma=1.1, level_sigma_low=0.7, load_loading=0.85, day_sigma=0.20, day_clip=4.0,
        wander_sigma=0.16, wander_phi=0.82, calendar_strength=1.0, growth_strength=1.0,
        regime_strength=1.0, job_day_pct=(25, 80), quiet_job_pct=8.0,
    ),
}  # fmt: skip
SIMULATED_METRICS: tuple[str, ...] = tuple(METRIC_BEHAVIOUR)


def metric_vector(values: dict[str, float]) -> np.ndarray:
    """Per-metric values in simulation order."""
    return np.array([values[m] for m in SIMULATED_METRICS], dtype=float)


def behaviour_vector(name: str) -> np.ndarray:
    """One MetricBehaviour field for every simulated metric, in simulation order."""
    return np.array([getattr(b, name) for b in METRIC_BEHAVIOUR.values()], dtype=np.float32)


def validate_metrics(metrics: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The metrics a fleet writes: each must be one the generator simulates."""
    unknown = [m for m in metrics if m not in METRIC_BEHAVIOUR]
    if unknown or not metrics:
        raise ValueError(
            f"var metrics {list(metrics)!r}: the generator can simulate only "
            f"{', '.join(SIMULATED_METRICS)} (unknown: {', '.join(unknown) or 'none given'})"
        )
    if len(set(metrics)) != len(metrics):
        raise ValueError(f"var metrics {list(metrics)!r} lists a metric twice")
    return tuple(metrics)


@dataclass(frozen=True)
class Archetype:
    name: str
    share: float  # fraction of the fleet
    level_p95: dict[str, float]  # median server's typical daily P95, percent of capacity
    peak_hour_utc: int  # centre of the diurnal bump
    diurnal_width_h: float  # standard deviation of the bump, hours
    diurnal_amp: dict[str, float]  # relative bump height
    weekend_factor: float  # multiplier on Saturday/Sunday
    month_end_uplift: float  # relative uplift over a month's last 3 days
    quarter_end_uplift: float  # relative uplift over a quarter's last 7 days
    yearly_amp: float  # relative amplitude of the annual cycle
    yearly_peak_doy: int  # day of year of the annual peak
    growth_per_year: tuple[float, float]  # annual growth range (fraction)
    hourly_noise: dict[str, float]  # hourly noise sd, fraction of the level
    correlation: tuple[tuple[float, ...], ...]  # metric-noise correlation, simulation order
    instance_types: tuple[str, ...]
    on_off_share: float  # job servers: days saturated by jobs alternate with idle days
    creep_share: float  # memory creeps (leaks, caches) until a restart or GC resets it


def _corr(cm: float, cd: float, cn: float, md: float, mn: float, dn: float) -> tuple:
    """Correlation matrix in simulation order cpu, memory, disk_io, network."""
    return ((1, cm, cd, cn), (cm, 1, md, mn), (cd, md, 1, dn), (cn, mn, dn, 1))


def _m(cpu: float, memory: float, disk_io: float, network: float) -> dict[str, float]:
    return {"cpu": cpu, "memory": memory, "disk_io": disk_io, "network": network}


ARCHETYPES: tuple[Archetype, ...] = (
    Archetype(
        name="web",
        share=0.30,
        level_p95=_m(3, 9, 5, 9),
        peak_hour_utc=14,
        diurnal_width_h=3.5,
        diurnal_amp=_m(1.6, 0.10, 0.7, 1.5),
        weekend_factor=0.9,
        month_end_uplift=0.04,
        quarter_end_uplift=0.10,
        yearly_amp=0.10,
        yearly_peak_doy=335,
        growth_per_year=(-0.02, 0.10),
        hourly_noise=_m(0.12, 0.03, 0.15, 0.12),
        correlation=_corr(0.5, 0.3, 0.8, 0.2, 0.4, 0.3),
        instance_types=("m6i.large", "m6i.xlarge", "c6i.xlarge"),
        on_off_share=0.0,
        creep_share=0.30,
    ),
    Archetype(
        name="app",
        share=0.25,
        level_p95=_m(2.6, 11, 6, 7),
        peak_hour_utc=15,
        diurnal_width_h=4.0,
        diurnal_amp=_m(1.35, 0.08, 0.6, 1.2),
        weekend_factor=0.92,
        month_end_uplift=0.06,
        quarter_end_uplift=0.12,
        yearly_amp=0.06,
        yearly_peak_doy=320,
        growth_per_year=(-0.02, 0.10),
        hourly_noise=_m(0.12, 0.03, 0.15, 0.12),
        correlation=_corr(0.6, 0.4, 0.7, 0.3, 0.4, 0.4),
        instance_types=("m6i.xlarge", "m6i.2xlarge", "r6i.xlarge"),
        on_off_share=0.05,
        creep_share=0.50,
    ),
    Archetype(
        name="database",
        share=0.20,
        level_p95=_m(2.6, 20, 9, 6),
        peak_hour_utc=11,
        diurnal_width_h=5.0,
        diurnal_amp=_m(0.85, 0.03, 0.6, 0.7),
        weekend_factor=0.92,
        month_end_uplift=0.10,
        quarter_end_uplift=0.18,
        yearly_amp=0.05,
        yearly_peak_doy=340,
        growth_per_year=(0.00, 0.10),
        hourly_noise=_m(0.10, 0.02, 0.15, 0.12),
        correlation=_corr(0.4, 0.7, 0.5, 0.3, 0.2, 0.4),
        instance_types=("r6i.2xlarge", "r6i.4xlarge", "i4i.2xlarge"),
        on_off_share=0.0,
        creep_share=0.10,
    ),
    Archetype(
        name="batch",
        share=0.15,
        level_p95=_m(2, 7, 6, 4),
        peak_hour_utc=2,
        diurnal_width_h=2.5,
        diurnal_amp=_m(2.0, 0.15, 1.2, 1.0),
        weekend_factor=1.0,
        month_end_uplift=0.20,
        quarter_end_uplift=0.25,
        yearly_amp=0.04,
        yearly_peak_doy=15,
        growth_per_year=(-0.04, 0.08),
        hourly_noise=_m(0.15, 0.04, 0.2, 0.15),
        correlation=_corr(0.5, 0.7, 0.4, 0.4, 0.3, 0.5),
        instance_types=("c6i.2xlarge", "c6i.4xlarge", "m6i.2xlarge"),
        on_off_share=0.50,
        creep_share=0.10,
    ),
    Archetype(
        name="analytics",
        share=0.10,
        level_p95=_m(2.3, 13, 7, 5),
        peak_hour_utc=9,
        diurnal_width_h=3.0,
        diurnal_amp=_m(1.6, 0.10, 0.9, 0.8),
        weekend_factor=0.88,
        month_end_uplift=0.15,
        quarter_end_uplift=0.35,
        yearly_amp=0.08,
        yearly_peak_doy=30,
        growth_per_year=(0.00, 0.12),
        hourly_noise=_m(0.14, 0.03, 0.18, 0.14),
        correlation=_corr(0.6, 0.6, 0.5, 0.5, 0.3, 0.6),
        instance_types=("r6i.2xlarge", "m6i.4xlarge", "x2iedn.xlarge"),
        on_off_share=0.30,
        creep_share=0.20,
    ),
)

REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1")
BUSINESS_UNITS = ("payments", "retail", "data-platform", "internal-tools", "marketing")
ENVIRONMENTS = ("prod", "staging", "dev")
ENVIRONMENT_SHARES = (0.7, 0.2, 0.1)
# Non-production servers carry less load (the idle end of a real fleet).
ENVIRONMENT_LEVEL = (1.0, 0.65, 0.45)


def cholesky(archetype: Archetype) -> np.ndarray:
    """Lower-triangular factor that turns iid normals into the archetype's correlation."""
    return np.linalg.cholesky(np.asarray(archetype.correlation, dtype=float))
