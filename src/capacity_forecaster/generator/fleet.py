"""Vectorised synthetic fleet: hourly metrics streamed to hive-partitioned Parquet by day.

The daily world (levels, bursts, job days, memory creep, capacity events; dynamics.py) is
simulated first for every server x metric x day. Hours are then drawn in chunks of whole days
for all servers at once (numpy broadcasting over hours x servers x metrics), so memory stays
flat whatever the history length and the cost is linear in servers x hours. The world and
each chunk have their own rng seeded from (seed, ...), so a FleetSpec always produces the
same bytes.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from capacity_forecaster.generator import output
from capacity_forecaster.generator.archetypes import (
    ARCHETYPES,
    SIMULATED_METRICS,
    cholesky,
    metric_vector,
    validate_metrics,
)
from capacity_forecaster.generator.dynamics import World, simulate_world
from capacity_forecaster.generator.servers import Servers, draw_servers

CHUNK_DAYS = 32
HOURLY_NOISE_DF = 5.0  # Student-t: the odd hour spikes far above its neighbours
NOISE_FLOOR_PCT = 0.15  # even an idle server's hourly P95 jitters a little
MAINTENANCE_RUNS = 0.9  # share of days the quiet-time job runs
JOB_DAY_FLATNESS = 0.7  # job and burst days run near their level all day, peaking a little


@dataclass(frozen=True)
class FleetSpec:
    servers: int = 120
    days: int = 1461
    start: dt.date = field(default_factory=lambda: dt.date.today() - dt.timedelta(days=1461))
    seed: int = 42
    future_days: int = 0
    holidays: tuple[str, ...] = ()  # MM-DD; the CLI passes var `holidays`
    # Metrics written, in this order (the CLI passes var `metrics`); the simulated world always
    # has every metric the generator knows, so a subset does not change the values.
    metrics: tuple[str, ...] = SIMULATED_METRICS

    def __post_init__(self) -> None:
        if self.servers < 1 or self.days < 1 or self.future_days < 0:
            raise ValueError("servers and days must be >= 1, future_days >= 0")
        object.__setattr__(self, "metrics", validate_metrics(tuple(self.metrics)))

    @property
    def total_days(self) -> int:
        return self.days + self.future_days


@dataclass
class FleetResult:
    metrics_rows: int
    truth_rows: int
    servers: int
    days_written: int
    bytes_written: int
    capacity_events: int = 0


def diurnal_shapes(archetype: np.ndarray) -> np.ndarray:
    """(24, S, M) intraday multipliers of the daily P95 level: a Gaussian bump at the
    archetype's peak hour, scaled so the 95th percentile hour is 1."""
    arch = [ARCHETYPES[a] for a in archetype]
    peak = np.array([a.peak_hour_utc for a in arch])
    width = np.array([a.diurnal_width_h for a in arch])
    amp = np.stack([metric_vector(a.diurnal_amp) for a in arch])  # (S, M)
    dist = (np.arange(24)[:, None] - peak[None, :] + 12) % 24 - 12
    bump = np.exp(-0.5 * (dist / width) ** 2)
    mean = bump.mean(axis=0)
    shape = 1 + amp[None] * ((bump - mean) / (1 - mean))[:, :, None]
    shape = np.maximum(shape, 0.02)
    return (shape / np.quantile(shape, 0.95, axis=0)).astype(np.float32)


def correlated_noise(rng: np.random.Generator, archetype: np.ndarray, n_hours: int) -> np.ndarray:
    """Unit-variance hourly noise (hours, S, M), heavy-tailed (multivariate Student-t) and
    correlated across metrics per archetype."""
    noise = rng.standard_normal((n_hours, len(archetype), len(SIMULATED_METRICS)), dtype=np.float32)
    for a_idx, spec in enumerate(ARCHETYPES):
        cols = archetype == a_idx
        noise[:, cols, :] = noise[:, cols, :] @ cholesky(spec).T.astype(np.float32)
    chi = rng.chisquare(HOURLY_NOISE_DF, (n_hours, len(archetype))).astype(np.float32)
    return noise * np.sqrt((HOURLY_NOISE_DF - 2) / np.maximum(chi, 1e-3))[:, :, None]


def _simulate_chunk(
    srv: Servers,
    world: World,
    shapes: np.ndarray,
    noise_rel: np.ndarray,
    first_day: int,
    n_days: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Values (hours, S, M) and an observed mask (hours, S) for one chunk of whole days."""
    n_hours = n_days * 24
    days = slice(first_day, first_day + n_days)
    level = np.repeat(world.level[days], 24, axis=0)  # (H, S, M)
    flat = np.repeat(world.flat[days], 24, axis=0)
    shape = np.tile(shapes, (n_days, 1, 1))
    shape = np.where(flat[:, :, None], JOB_DAY_FLATNESS + (1 - JOB_DAY_FLATNESS) * shape, shape)
    noise = correlated_noise(rng, srv.archetype, n_hours)
    values = level * (shape + noise * noise_rel) + noise * NOISE_FLOOR_PCT
    hod = np.tile(np.arange(24), n_days)
    nightly = (hod[:, None] == srv.maintenance_hour) & (
        rng.random((n_hours, len(srv.ids))) < MAINTENANCE_RUNS
    )
    values += np.where(nightly[:, :, None], srv.maintenance_pct.astype(np.float32), np.float32(0.0))
    np.clip(values, 0.0, 100.0, out=values)

    first_hour = first_day * 24
    day = np.arange(first_day, first_day + n_days).repeat(24)
    observed = (day[:, None] >= srv.first_day[None, :]) & (day[:, None] < srv.last_day[None, :])
    last_hour = first_hour + n_hours
    for s, a, b in srv.outages:
        if a < last_hour and b > first_hour:
            observed[max(a, first_hour) - first_hour : min(b, last_hour) - first_hour, s] = False
    return values, observed


def generate_fleet(
    spec: FleetSpec,
    raw_root: Path,
    truth_root: Path | None = None,
    seed_csv: Path | None = None,
    thresholds: tuple[float, ...] = (),
    progress: Callable[[int, int], None] | None = None,
) -> FleetResult:
    """Simulate the fleet and land it in the raw data contract under `raw_root`.

    Days past `spec.days` (when `future_days` > 0) go to `truth_root`, never to `raw_root`,
    with the future daily P95, the capacity events and the generating parameters; the
    truth's first crossing dates are written for each of `thresholds` (the CLI passes the
    high / very high risk vars).
    """
    if spec.future_days and truth_root is None:
        raise ValueError("future_days > 0 needs a truth_root to hold the hidden future")
    # A regenerated fleet replaces the old one whole; the truth folder is only touched when
    # this run writes a hidden future (it may belong to another fleet otherwise).
    for root in (raw_root, truth_root if spec.future_days else None):
        if root is not None and (root / "metrics").exists():
            shutil.rmtree(root / "metrics")
    rng = np.random.default_rng(spec.seed)
    srv = draw_servers(spec.servers, spec.days, spec.total_days, rng)
    world = simulate_world(srv, spec.start, spec.total_days, set(spec.holidays), rng)
    (raw_root / "inventory").mkdir(parents=True, exist_ok=True)
    pq.write_table(
        output.inventory_table(spec.start, spec.days, spec.total_days, srv, world.events, rng),
        raw_root / "inventory" / "servers.parquet",
    )

    columns = [SIMULATED_METRICS.index(m) for m in spec.metrics]
    schema = output.metrics_schema(spec.metrics)
    shapes = diurnal_shapes(srv.archetype)
    noise_rel = np.stack([metric_vector(ARCHETYPES[a].hourly_noise) for a in srv.archetype]).astype(
        np.float32
    )
    ids = pa.array(srv.ids, pa.string())  # taken per day: no string conversion per row
    csv_writer = output.open_seed_csv(seed_csv, schema) if seed_csv else None
    future_p95 = np.full((spec.future_days, len(ids), len(columns)), np.nan)
    future_hours = np.zeros((spec.future_days, len(ids)), dtype=int)
    metrics_rows = truth_rows = bytes_written = 0
    start_ts = np.datetime64(spec.start, "D").astype("datetime64[us]")
    for chunk, first_day in enumerate(range(0, spec.total_days, CHUNK_DAYS)):
        n_days = min(CHUNK_DAYS, spec.total_days - first_day)
        values, observed = _simulate_chunk(
            srv, world, shapes, noise_rel, first_day, n_days, np.random.default_rng([spec.seed, chunk])
        )
        values = values[:, :, columns]
        for offset in range(n_days):
            day = first_day + offset
            hours = slice(offset * 24, offset * 24 + 24)
            mask = observed[hours]  # (24, S)
            if not mask.any():
                continue
            hour_idx, server_idx = np.nonzero(mask)
            ts = start_ts + ((day * 24 + hour_idx) * 3_600_000_000).astype("timedelta64[us]")
            day_values = values[hours][hour_idx, server_idx]
            date = spec.start + dt.timedelta(days=day)
            is_future = day >= spec.days
            root = truth_root if is_future else raw_root
            assert root is not None  # a future needs truth_root, checked on entry
            day_ids = ids.take(server_idx)
            bytes_written += output.write_day(root, date, schema, ts, day_ids, day_values)
            if is_future:
                truth_rows += len(ts)
                future_p95[day - spec.days] = _nan_p95(np.where(mask[:, :, None], values[hours], np.nan))
                future_hours[day - spec.days] = mask.sum(axis=0)
            else:
                metrics_rows += len(ts)
                if csv_writer is not None:
                    csv_writer(ts, day_ids, day_values)
        if progress:
            progress(min(first_day + n_days, spec.total_days), spec.total_days)
    if csv_writer is not None:
        csv_writer(None, None, None)
    if spec.future_days and truth_root is not None:
        _write_truth(spec, truth_root, srv, world, future_p95, future_hours, thresholds)
    return FleetResult(metrics_rows, truth_rows, len(ids), spec.total_days, bytes_written, len(world.events))


def _write_truth(
    spec: FleetSpec,
    truth_root: Path,
    srv: Servers,
    world: World,
    future_p95: np.ndarray,
    future_hours: np.ndarray,
    thresholds: tuple[float, ...],
) -> None:
    truth_root.mkdir(parents=True, exist_ok=True)
    tables = {
        "server_truth.parquet": output.server_truth_table(
            spec.start, spec.days, srv, world, future_p95, spec.metrics, thresholds
        ),
        "future_daily_p95.parquet": output.future_daily_table(
            spec.start, spec.days, srv, future_p95, future_hours, spec.metrics
        ),
        "capacity_events.parquet": output.events_table(
            spec.start, spec.days, srv, world.events, spec.metrics
        ),
    }
    for name, table in tables.items():
        pq.write_table(table, truth_root / name)


def _nan_p95(masked: np.ndarray) -> np.ndarray:
    """P95 over axis 0 ignoring NaN (missing hours), interpolated linearly like DuckDB's
    quantile_cont; NaN where every hour is missing."""
    ordered = np.sort(masked, axis=0)  # NaN sorts last
    present = (~np.isnan(masked)).sum(axis=0)
    position = np.maximum(present - 1, 0) * 0.95
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, np.maximum(present - 1, 0))
    below = np.take_along_axis(ordered, low[None], axis=0)[0]
    above = np.take_along_axis(ordered, high[None], axis=0)[0]
    p95 = below + (above - below) * (position - low)
    return np.where(present > 0, p95, np.nan)
