"""Server behaviour profiles. Metric order everywhere: cpu, memory, disk_io, network."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METRICS: tuple[str, ...] = ("cpu", "memory", "disk_io", "network")


@dataclass(frozen=True)
class Archetype:
    name: str
    share: float  # fraction of the fleet
    base_pct: tuple[float, float, float, float]  # typical daily mean level per metric
    peak_hour_utc: int  # centre of the diurnal bump
    diurnal_width_h: float  # standard deviation of the bump, hours
    diurnal_amp: tuple[float, float, float, float]  # relative bump height per metric
    weekend_factor: float  # multiplier on Saturday/Sunday
    month_end_uplift: float  # relative uplift over a month's last 3 days
    quarter_end_uplift: float  # relative uplift over a quarter's last 7 days
    yearly_amp: float  # relative amplitude of the annual cycle
    yearly_peak_doy: int  # day of year of the annual peak
    growth_per_year: tuple[float, float]  # annual growth range (fraction)
    noise_sd: tuple[float, float, float, float]  # hourly noise, percentage points
    correlation: tuple[tuple[float, ...], ...]  # metric-noise correlation matrix
    instance_types: tuple[str, ...]


def _corr(cm: float, cd: float, cn: float, md: float, mn: float, dn: float) -> tuple:
    return ((1, cm, cd, cn), (cm, 1, md, mn), (cd, md, 1, dn), (cn, mn, dn, 1))


ARCHETYPES: tuple[Archetype, ...] = (
    Archetype(
        "web",
        0.30,
        (24, 38, 10, 20),
        14,
        3.5,
        (0.55, 0.10, 0.30, 0.60),
        0.70,
        0.04,
        0.10,
        0.10,
        335,
        (-0.02, 0.10),
        (3.0, 1.5, 2.0, 3.0),
        _corr(0.5, 0.3, 0.8, 0.2, 0.4, 0.3),
        ("m6i.large", "m6i.xlarge", "c6i.xlarge"),
    ),
    Archetype(
        "app",
        0.25,
        (27, 42, 13, 17),
        15,
        4.0,
        (0.40, 0.08, 0.25, 0.45),
        0.75,
        0.06,
        0.12,
        0.06,
        320,
        (-0.02, 0.10),
        (3.0, 1.5, 2.0, 2.5),
        _corr(0.6, 0.4, 0.7, 0.3, 0.4, 0.4),
        ("m6i.xlarge", "m6i.2xlarge", "r6i.xlarge"),
    ),
    Archetype(
        "database",
        0.20,
        (30, 50, 26, 15),
        11,
        5.0,
        (0.25, 0.03, 0.30, 0.30),
        0.85,
        0.10,
        0.18,
        0.05,
        340,
        (0.00, 0.10),
        (2.5, 1.0, 3.0, 2.0),
        _corr(0.4, 0.7, 0.5, 0.3, 0.2, 0.4),
        ("r6i.2xlarge", "r6i.4xlarge", "i4i.2xlarge"),
    ),
    Archetype(
        "batch",
        0.15,
        (20, 32, 20, 12),
        2,
        2.5,
        (0.80, 0.15, 0.70, 0.50),
        1.05,
        0.20,
        0.25,
        0.04,
        15,
        (-0.04, 0.08),
        (4.0, 2.0, 4.0, 3.0),
        _corr(0.5, 0.7, 0.4, 0.4, 0.3, 0.5),
        ("c6i.2xlarge", "c6i.4xlarge", "m6i.2xlarge"),
    ),
    Archetype(
        "analytics",
        0.10,
        (18, 38, 17, 12),
        9,
        3.0,
        (0.50, 0.10, 0.50, 0.40),
        0.60,
        0.15,
        0.35,
        0.08,
        30,
        (0.00, 0.12),
        (3.5, 1.5, 3.5, 2.5),
        _corr(0.6, 0.6, 0.5, 0.5, 0.3, 0.6),
        ("r6i.2xlarge", "m6i.4xlarge", "x2idn.large"),
    ),
)

INSTANCE_TYPES: dict[str, tuple[int, int]] = {  # vCPUs, memory GB
    "m6i.large": (2, 8),
    "m6i.xlarge": (4, 16),
    "m6i.2xlarge": (8, 32),
    "m6i.4xlarge": (16, 64),
    "c6i.xlarge": (4, 8),
    "c6i.2xlarge": (8, 16),
    "c6i.4xlarge": (16, 32),
    "r6i.xlarge": (4, 32),
    "r6i.2xlarge": (8, 64),
    "r6i.4xlarge": (16, 128),
    "i4i.2xlarge": (8, 64),
    "x2idn.large": (2, 64),
}
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1")
BUSINESS_UNITS = ("payments", "retail", "data-platform", "internal-tools", "marketing")
ENVIRONMENTS = ("prod", "staging", "dev")
ENVIRONMENT_SHARES = (0.7, 0.2, 0.1)


def cholesky(archetype: Archetype) -> np.ndarray:
    """Lower-triangular factor that turns iid normals into the archetype's correlation."""
    return np.linalg.cholesky(np.asarray(archetype.correlation, dtype=float))
