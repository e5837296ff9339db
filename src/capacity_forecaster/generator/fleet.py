"""Vectorised synthetic fleet: hourly metrics streamed to hive-partitioned Parquet by day.

The fleet is simulated in chunks of whole days for all servers at once (numpy broadcasting
over hours x servers x metrics), so memory stays flat whatever the history length and the
cost is linear in servers x hours. Each chunk's rng is seeded from (seed, chunk index), so a
given FleetSpec always produces the same bytes.
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

from capacity_forecaster.generator.archetypes import (
    ARCHETYPES,
    BUSINESS_UNITS,
    ENVIRONMENT_SHARES,
    ENVIRONMENTS,
    INSTANCE_TYPES,
    METRICS,
    REGIONS,
    cholesky,
)

CHUNK_DAYS = 32
HOURS_PER_YEAR = 24 * 365.25
# How strongly calendar effects (weekends, month/quarter ends, holidays) move each metric:
# memory is mostly resident state, so it barely follows the calendar.
CALENDAR_STRENGTH = np.array([1.0, 0.35, 0.8, 1.0])
GROWTH_STRENGTH = np.array([1.0, 1.15, 0.9, 1.0])
AR_PHI = 0.85  # day-to-day persistence of the slow noise component
MONTH_END_DAYS = 3
QUARTER_END_DAYS = 7
HOT_SHARE = 0.12
HOT_GROWTH = (0.15, 0.35)

METRICS_SCHEMA = pa.schema(
    [
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("server_id", pa.string()),
        *[(f"{m}_p95", pa.float32()) for m in METRICS],
    ]
)


@dataclass(frozen=True)
class FleetSpec:
    servers: int = 120
    days: int = 1461
    start: dt.date = field(default_factory=lambda: dt.date.today() - dt.timedelta(days=1461))
    seed: int = 42
    future_days: int = 0
    holidays: tuple[str, ...] = ("01-01", "07-04", "12-24", "12-25", "12-31")

    def __post_init__(self) -> None:
        if self.servers < 1 or self.days < 1 or self.future_days < 0:
            raise ValueError("servers and days must be >= 1, future_days >= 0")

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


@dataclass
class _Servers:
    """Per-server parameters, arrays indexed by server position."""

    ids: list[str]
    archetype: np.ndarray  # (S,) index into ARCHETYPES
    base: np.ndarray  # (S, 4)
    growth: np.ndarray  # (S,) annual growth fraction
    compound: np.ndarray  # (S,) bool
    step_day: np.ndarray  # (S,) day index of a migration step, -1 = none
    step_factor: np.ndarray  # (S,)
    first_day: np.ndarray  # (S,) commissioned day index
    last_day: np.ndarray  # (S,) exclusive decommission day index (total_days = never)
    outages: list[tuple[int, int, int]]  # (server, start hour, end hour exclusive)
    ar_noise: np.ndarray  # (total_days, S, 4) slow correlated noise


def _draw_servers(spec: FleetSpec, rng: np.random.Generator) -> _Servers:
    n, total = spec.servers, spec.total_days
    shares = np.array([a.share for a in ARCHETYPES])
    counts = np.floor(shares * n).astype(int)
    counts[np.argsort(-(shares * n - counts))[: n - counts.sum()]] += 1
    archetype = rng.permutation(np.repeat(np.arange(len(ARCHETYPES)), counts))

    base_pct = np.array([ARCHETYPES[a].base_pct for a in archetype], dtype=float)
    base = base_pct * rng.lognormal(0.0, 0.18, size=(n, 4))
    lo = np.array([ARCHETYPES[a].growth_per_year[0] for a in archetype])
    hi = np.array([ARCHETYPES[a].growth_per_year[1] for a in archetype])
    growth = rng.uniform(lo, hi)
    # A minority of "hot" services outgrow their hosts: these are the capacity risks.
    hot = rng.random(n) < HOT_SHARE
    growth[hot] = rng.uniform(*HOT_GROWTH, hot.sum())
    compound = rng.random(n) < 0.5

    step_day = np.full(n, -1)
    has_step = rng.random(n) < 0.08
    step_day[has_step] = rng.integers(total // 5, max(total // 5 + 1, spec.days - 30), has_step.sum())
    step_factor = np.where(has_step, rng.uniform(0.65, 1.45, n), 1.0)

    # Lifecycle: most servers run the whole window; some are commissioned late (a few with
    # a very short history, to exercise cold start) and some are decommissioned early.
    first_day = np.zeros(n, dtype=int)
    last_day = np.full(n, total, dtype=int)
    order = rng.permutation(n)
    n_late, n_new, n_gone = round(0.10 * n), max(1, round(0.03 * n)), round(0.05 * n)
    late, new = order[:n_late], order[n_late : n_late + n_new]
    gone = order[n_late + n_new : n_late + n_new + n_gone]
    if spec.days > 120:
        first_day[late] = rng.integers(30, spec.days - 90, late.size)
    if spec.days > 25:
        first_day[new] = rng.integers(spec.days - 21, spec.days - 10, new.size)
    if spec.days > 60:
        last_day[gone] = rng.integers(spec.days // 2, spec.days - 30, gone.size)

    outages: list[tuple[int, int, int]] = []
    per_server = rng.poisson(5.0 * total / 365.25, n)
    for s in range(n):
        starts = rng.integers(0, total * 24, per_server[s])
        lengths = np.minimum(rng.geometric(1 / 6, per_server[s]), 48)
        outages.extend((s, int(a), int(a + b)) for a, b in zip(starts, lengths, strict=True))

    ar_noise = np.zeros((total, n, 4))
    sd = np.array([ARCHETYPES[a].noise_sd for a in archetype]) * 0.9
    chol = np.stack([cholesky(ARCHETYPES[a]) for a in archetype])  # (S, 4, 4)
    innov_scale = np.sqrt(1 - AR_PHI**2)
    state = np.einsum("sij,sj->si", chol, rng.standard_normal((n, 4))) * sd
    for d in range(total):
        shock = np.einsum("sij,sj->si", chol, rng.standard_normal((n, 4))) * sd
        state = AR_PHI * state + innov_scale * shock
        ar_noise[d] = state

    return _Servers(
        ids=[f"srv-{i + 1:04d}" for i in range(n)],
        archetype=archetype,
        base=base,
        growth=growth,
        compound=compound,
        step_day=step_day,
        step_factor=step_factor,
        first_day=first_day,
        last_day=last_day,
        outages=outages,
        ar_noise=ar_noise,
    )


def _calendar(hours: np.ndarray, start: dt.date, holidays: set[str]) -> dict[str, np.ndarray]:
    """Calendar arrays for absolute hour indexes (hour 0 = start 00:00 UTC)."""
    day_index = hours // 24
    dates = np.datetime64(start, "D") + day_index.astype("timedelta64[D]")
    months = dates.astype("datetime64[M]")
    month_end = (months + 1).astype("datetime64[D]") - 1
    month_num = months.astype(int) % 12  # 0 = January
    quarter_end_month = months - (month_num % 3) + 3
    quarter_end = quarter_end_month.astype("datetime64[D]") - 1
    to_month_end = (month_end - dates).astype(int)
    to_quarter_end = (quarter_end - dates).astype(int)
    mmdd: np.ndarray | list[str] = (
        np.array([str(d)[5:] for d in dates[::24]]).repeat(24)[: len(hours)] if len(hours) else []
    )
    weekday = (dates.astype("datetime64[D]").view("int64") - 4) % 7  # 0 = Monday
    doy = (dates - dates.astype("datetime64[Y]")).astype(int)
    return {
        "hod": hours % 24,
        "weekend": weekday >= 5,
        "doy": doy,
        "month_end_ramp": np.where(to_month_end < MONTH_END_DAYS, 1 - to_month_end / MONTH_END_DAYS, 0.0),
        "quarter_end_ramp": np.where(
            to_quarter_end < QUARTER_END_DAYS, 1 - to_quarter_end / (QUARTER_END_DAYS + 1), 0.0
        ),
        "holiday": np.isin(mmdd, sorted(holidays)),
    }


def correlated_noise(rng: np.random.Generator, archetype: np.ndarray, n_hours: int) -> np.ndarray:
    """Hourly noise (hours, S, 4) in percentage points, correlated across metrics per archetype."""
    noise = rng.standard_normal((n_hours, len(archetype), 4))
    for a_idx, spec in enumerate(ARCHETYPES):
        cols = archetype == a_idx
        noise[:, cols, :] = noise[:, cols, :] @ cholesky(spec).T
    return noise * np.array([ARCHETYPES[a].noise_sd for a in archetype])[None]


def _simulate_chunk(
    srv: _Servers, spec: FleetSpec, first_hour: int, n_hours: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Values (hours, S, 4) and an observed mask (hours, S) for one chunk of whole days."""
    hours = np.arange(first_hour, first_hour + n_hours)
    cal = _calendar(hours, spec.start, set(spec.holidays))
    arch = [ARCHETYPES[a] for a in srv.archetype]
    peak = np.array([a.peak_hour_utc for a in arch])
    width = np.array([a.diurnal_width_h for a in arch])
    amp = np.array([a.diurnal_amp for a in arch])

    def bump(hod: np.ndarray) -> np.ndarray:
        dist = (hod[:, None] - peak[None, :] + 12) % 24 - 12
        return np.exp(-0.5 * (dist / width[None, :]) ** 2)

    mean_bump = bump(np.arange(24)).mean(axis=0)
    diurnal = 1 + amp[None] * ((bump(cal["hod"]) - mean_bump) / (1 - mean_bump))[:, :, None]

    weekend = np.where(cal["weekend"][:, None], np.array([a.weekend_factor for a in arch]), 1.0)
    yearly = 1 + np.array([a.yearly_amp for a in arch]) * np.cos(
        2 * np.pi * (cal["doy"][:, None] - np.array([a.yearly_peak_doy for a in arch])) / 365.25
    )
    month_end = 1 + cal["month_end_ramp"][:, None] * np.array([a.month_end_uplift for a in arch])
    quarter_end = 1 + cal["quarter_end_ramp"][:, None] * np.array([a.quarter_end_uplift for a in arch])
    holiday_drop = np.where(srv.archetype == 3, 0.95, 0.65)  # batch jobs run on holidays
    holiday = np.where(cal["holiday"][:, None], holiday_drop, 1.0)
    calendar = weekend * yearly * month_end * quarter_end * holiday  # (H, S)
    calendar = 1 + CALENDAR_STRENGTH[None, None, :] * (calendar[:, :, None] - 1)

    years = (hours / HOURS_PER_YEAR)[:, None, None]
    rate = srv.growth[None, :, None] * GROWTH_STRENGTH[None, None, :]
    growth = np.where(srv.compound[None, :, None], (1 + rate) ** years, 1 + rate * years)
    day = hours // 24
    stepped = (srv.step_day[None, :] >= 0) & (day[:, None] >= srv.step_day[None, :])
    step = np.where(stepped, srv.step_factor[None, :], 1.0)[:, :, None]
    level = srv.base[None] * growth * step

    noise = correlated_noise(rng, srv.archetype, n_hours)

    values = level * diurnal * calendar + srv.ar_noise[day] + noise
    np.clip(values, 0.0, 100.0, out=values)

    in_service = (day[:, None] >= srv.first_day[None, :]) & (day[:, None] < srv.last_day[None, :])
    observed = in_service.copy()
    last_hour = first_hour + n_hours
    for s, a, b in srv.outages:
        if a < last_hour and b > first_hour:
            observed[max(a, first_hour) - first_hour : min(b, last_hour) - first_hour, s] = False
    return values.astype(np.float32), observed


def _write_day(root: Path, date: dt.date, ts: np.ndarray, ids: np.ndarray, values: np.ndarray) -> int:
    folder = root / "metrics" / f"date={date.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    columns = [pa.array(ts, pa.timestamp("us", tz="UTC")), pa.array(ids, pa.string())]
    columns += [pa.array(values[:, m], pa.float32()) for m in range(len(METRICS))]
    path = folder / "part-0.parquet"
    pq.write_table(pa.Table.from_arrays(columns, schema=METRICS_SCHEMA), path, compression="zstd")
    return path.stat().st_size


def _inventory_table(spec: FleetSpec, srv: _Servers, rng: np.random.Generator) -> pa.Table:
    types = [rng.choice(ARCHETYPES[a].instance_types) for a in srv.archetype]
    start = np.datetime64(spec.start, "D")
    decommissioned = [
        None if last >= spec.total_days else (start + int(last)).astype(dt.date) for last in srv.last_day
    ]
    return pa.table(
        {
            "server_id": srv.ids,
            "archetype": [ARCHETYPES[a].name for a in srv.archetype],
            "instance_type": types,
            "vcpus": pa.array([INSTANCE_TYPES[t][0] for t in types], pa.int32()),
            "memory_gb": pa.array([INSTANCE_TYPES[t][1] for t in types], pa.int32()),
            "region": rng.choice(REGIONS, len(srv.ids)).tolist(),
            "business_unit": rng.choice(BUSINESS_UNITS, len(srv.ids)).tolist(),
            "environment": rng.choice(ENVIRONMENTS, len(srv.ids), p=ENVIRONMENT_SHARES).tolist(),
            "commissioned_date": pa.array(
                [(start + int(d)).astype(dt.date) for d in srv.first_day], pa.date32()
            ),
            "decommissioned_date": pa.array(decommissioned, pa.date32()),
        }
    )


def _truth_table(
    spec: FleetSpec, srv: _Servers, future_p95: np.ndarray, thresholds: tuple[float, ...]
) -> pa.Table:
    """Per server x metric: the generating parameters and first future threshold crossings."""
    rows: dict[str, list] = {
        "server_id": [],
        "metric": [],
        "archetype": [],
        "growth_per_year": [],
        "growth_model": [],
        "step_date": [],
        "step_factor": [],
        "future_max_daily_p95": [],
    }
    for t in thresholds:
        rows[f"first_cross_{int(t)}_date"] = []
    start = np.datetime64(spec.start, "D")
    for s, server_id in enumerate(srv.ids):
        for m, metric in enumerate(METRICS):
            series = future_p95[:, s, m]
            rows["server_id"].append(server_id)
            rows["metric"].append(metric)
            rows["archetype"].append(ARCHETYPES[srv.archetype[s]].name)
            rows["growth_per_year"].append(float(srv.growth[s] * GROWTH_STRENGTH[m]))
            rows["growth_model"].append("compound" if srv.compound[s] else "linear")
            rows["step_date"].append(
                None if srv.step_day[s] < 0 else (start + int(srv.step_day[s])).astype(dt.date)
            )
            rows["step_factor"].append(float(srv.step_factor[s]))
            rows["future_max_daily_p95"].append(
                None if np.all(np.isnan(series)) else float(np.nanmax(series))
            )
            for t in thresholds:
                hit = np.flatnonzero(series > t)
                rows[f"first_cross_{int(t)}_date"].append(
                    (start + spec.days + int(hit[0])).astype(dt.date) if hit.size else None
                )
    return pa.table(rows)


def generate_fleet(
    spec: FleetSpec,
    raw_root: Path,
    truth_root: Path | None = None,
    seed_csv: Path | None = None,
    thresholds: tuple[float, ...] = (80.0, 90.0),
    progress: Callable[[int, int], None] | None = None,
) -> FleetResult:
    """Simulate the fleet and land it in the raw data contract under `raw_root`.

    Days past `spec.days` (when `future_days` > 0) go to `truth_root`, never to `raw_root`.
    """
    if spec.future_days and truth_root is None:
        raise ValueError("future_days > 0 needs a truth_root to hold the hidden future")
    # A regenerated fleet replaces the old one whole; the truth folder is only touched when
    # this run writes a hidden future (it may belong to another fleet otherwise).
    for root in (raw_root, truth_root if spec.future_days else None):
        if root is not None and (root / "metrics").exists():
            shutil.rmtree(root / "metrics")
    rng = np.random.default_rng(spec.seed)
    srv = _draw_servers(spec, rng)
    ids = np.array(srv.ids)
    (raw_root / "inventory").mkdir(parents=True, exist_ok=True)
    pq.write_table(_inventory_table(spec, srv, rng), raw_root / "inventory" / "servers.parquet")

    csv_writer = _open_seed_csv(seed_csv) if seed_csv else None
    future_p95 = np.full((spec.future_days, len(ids), 4), np.nan)
    metrics_rows = truth_rows = bytes_written = 0
    start_ts = np.datetime64(spec.start, "D").astype("datetime64[us]")
    for chunk, first_day in enumerate(range(0, spec.total_days, CHUNK_DAYS)):
        n_days = min(CHUNK_DAYS, spec.total_days - first_day)
        values, observed = _simulate_chunk(
            srv, spec, first_day * 24, n_days * 24, np.random.default_rng([spec.seed, chunk])
        )
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
            root = raw_root
            if is_future:
                assert truth_root is not None  # checked on entry: future days need a truth_root
                root = truth_root
            bytes_written += _write_day(root, date, ts, ids[server_idx], day_values)
            if is_future:
                truth_rows += len(ts)
                masked = np.where(mask[:, :, None], values[hours], np.nan)
                with np.errstate(all="ignore"):
                    future_p95[day - spec.days] = _nan_p95(masked)
            else:
                metrics_rows += len(ts)
                if csv_writer is not None:
                    csv_writer(ts, ids[server_idx], day_values)
        if progress:
            progress(min(first_day + n_days, spec.total_days), spec.total_days)
    if csv_writer is not None:
        csv_writer(None, None, None)
    if spec.future_days and truth_root is not None:
        pq.write_table(_truth_table(spec, srv, future_p95, thresholds), truth_root / "server_truth.parquet")
    return FleetResult(metrics_rows, truth_rows, len(ids), spec.total_days, bytes_written)


def _nan_p95(masked: np.ndarray) -> np.ndarray:
    """Daily P95 over the hour axis ignoring missing hours (linear, like quantile_cont)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanpercentile(masked, 95, axis=0)


def _open_seed_csv(path: Path) -> Callable:
    """The seed project's `server_metrics.csv.gz`, for tools built against it."""
    import pyarrow.csv as pacsv

    path.parent.mkdir(parents=True, exist_ok=True)
    sink = pa.CompressedOutputStream(str(path), "gzip")
    writer = pacsv.CSVWriter(sink, METRICS_SCHEMA)

    def write(ts, ids, values) -> None:
        if ts is None:
            writer.close()
            sink.close()
            return
        columns = [pa.array(ts, pa.timestamp("us", tz="UTC")), pa.array(ids, pa.string())]
        columns += [pa.array(values[:, m], pa.float32()) for m in range(len(METRICS))]
        writer.write_table(pa.Table.from_arrays(columns, schema=METRICS_SCHEMA))

    return write
