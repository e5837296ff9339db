"""Tables the generator writes: hourly metrics, inventory (raw contract) and the hidden truth."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from capacity_forecaster.generator.archetypes import (
    ARCHETYPES,
    BUSINESS_UNITS,
    ENVIRONMENTS,
    METRIC_BEHAVIOUR,
    REGIONS,
    SIMULATED_METRICS,
)
from capacity_forecaster.generator.dynamics import CapacityEvent, World
from capacity_forecaster.generator.instances import INSTANCE_TYPES
from capacity_forecaster.generator.servers import Servers


def metrics_schema(metrics: tuple[str, ...]) -> pa.Schema:
    return pa.schema(
        [
            ("timestamp", pa.timestamp("us", tz="UTC")),
            ("server_id", pa.string()),
            *[(f"{m}_p95", pa.float32()) for m in metrics],
        ]
    )


def _metrics_table(schema: pa.Schema, ts: np.ndarray, ids: pa.Array, values: np.ndarray) -> pa.Table:
    columns = [pa.array(ts, pa.timestamp("us", tz="UTC")), ids]
    columns += [pa.array(values[:, i], pa.float32()) for i in range(values.shape[1])]
    return pa.Table.from_arrays(columns, schema=schema)


def write_day(
    root: Path, date: dt.date, schema: pa.Schema, ts: np.ndarray, ids: pa.Array, values: np.ndarray
) -> int:
    folder = root / "metrics" / f"date={date.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "part-0.parquet"
    pq.write_table(_metrics_table(schema, ts, ids, values), path, compression="zstd")
    return path.stat().st_size


def open_seed_csv(path: Path, schema: pa.Schema) -> Callable:
    """The seed project's `server_metrics.csv.gz`, for tools built against it."""
    import pyarrow.csv as pacsv

    path.parent.mkdir(parents=True, exist_ok=True)
    sink = pa.CompressedOutputStream(str(path), "gzip")
    writer = pacsv.CSVWriter(sink, schema)

    def write(ts, ids, values) -> None:
        if ts is None:
            writer.close()
            sink.close()
            return
        writer.write_table(_metrics_table(schema, ts, ids, values))

    return write


def _date(start: dt.date, day: int) -> dt.date:
    return start + dt.timedelta(days=int(day))


def inventory_table(
    start: dt.date, days: int, total_days: int, srv: Servers, events: list[CapacityEvent], rng
) -> pa.Table:
    """The inventory as of the last observed day: capacity events up to then are applied."""
    instance = list(srv.instance_type)
    resized: list[dt.date | None] = [None] * len(srv.ids)
    for event in events:
        if event.day < days:
            instance[event.server] = event.to_type
            if event.kind == "upgrade":
                resized[event.server] = _date(start, event.day)
    decommissioned = [None if last >= total_days else _date(start, last) for last in srv.last_day]
    return pa.table(
        {
            "server_id": srv.ids,
            "archetype": [ARCHETYPES[a].name for a in srv.archetype],
            "instance_type": instance,
            "vcpus": pa.array([INSTANCE_TYPES[t][0] for t in instance], pa.int32()),
            "memory_gb": pa.array([INSTANCE_TYPES[t][1] for t in instance], pa.int32()),
            "region": rng.choice(REGIONS, len(srv.ids)).tolist(),
            "business_unit": rng.choice(BUSINESS_UNITS, len(srv.ids)).tolist(),
            "environment": [ENVIRONMENTS[e] for e in srv.environment],
            "commissioned_date": pa.array([_date(start, d) for d in srv.first_day], pa.date32()),
            "decommissioned_date": pa.array(decommissioned, pa.date32()),
            "last_resized_date": pa.array(resized, pa.date32()),
        }
    )


def events_table(
    start: dt.date, days: int, srv: Servers, events: list[CapacityEvent], metrics: tuple[str, ...]
) -> pa.Table:
    """Every capacity event, observed history and hidden future alike."""
    idx = [SIMULATED_METRICS.index(m) for m in metrics]
    columns: dict[str, list] = {
        "server_id": [srv.ids[e.server] for e in events],
        "event_date": [_date(start, e.day) for e in events],
        "is_future": [e.day >= days for e in events],
        "kind": [e.kind for e in events],
        "trigger_metrics": [",".join(e.trigger_metrics) for e in events],
        "from_instance_type": [e.from_type for e in events],
        "to_instance_type": [e.to_type for e in events],
        "vcpus_after": [INSTANCE_TYPES[e.to_type][0] for e in events],
        "memory_gb_after": [INSTANCE_TYPES[e.to_type][1] for e in events],
    }
    for m, i in zip(metrics, idx, strict=True):
        columns[f"utilisation_factor_{m}"] = [float(e.factor[i]) for e in events]
    schema = {"event_date": pa.date32(), "vcpus_after": pa.int32(), "memory_gb_after": pa.int32()}
    return pa.table({k: pa.array(v, schema.get(k)) for k, v in columns.items()})


def future_daily_table(
    start: dt.date, days: int, srv: Servers, p95: np.ndarray, hours: np.ndarray, metrics: tuple[str, ...]
) -> pa.Table:
    """Daily P95 (quantile over the day's hourly values) per server x metric x future day."""
    f, s, m = np.nonzero(np.broadcast_to(hours[:, :, None] > 0, p95.shape))
    dates = np.datetime64(start, "D") + days + f
    return pa.table(
        {
            "server_id": pa.array(np.array(srv.ids)[s], pa.string()),
            "metric": pa.array(np.array(metrics)[m], pa.string()),
            "metric_date": pa.array(dates, pa.date32()),
            "p95_pct": pa.array(p95[f, s, m], pa.float64()),
            "hours_present": pa.array(hours[f, s], pa.int32()),
        }
    )


def server_truth_table(
    start: dt.date,
    days: int,
    srv: Servers,
    world: World,
    future_p95: np.ndarray,
    metrics: tuple[str, ...],
    thresholds: tuple[float, ...],
) -> pa.Table:
    """Per server x metric: the generating parameters and first future threshold crossings."""
    n, k = len(srv.ids), len(metrics)
    idx = [SIMULATED_METRICS.index(m) for m in metrics]
    growth_strength = np.array([METRIC_BEHAVIOUR[m].growth_strength for m in metrics])
    history = np.bincount([e.server for e in world.events if e.day < days], minlength=n)
    future = np.bincount([e.server for e in world.events if e.day >= days], minlength=n)
    rep = lambda values: np.repeat(np.asarray(values), k)  # noqa: E731
    series = future_p95.transpose(1, 2, 0).reshape(n * k, -1)  # (S*M, F)
    with np.errstate(invalid="ignore"):
        seen = ~np.isnan(series).all(axis=1)
        peak = np.where(seen, np.nanmax(np.where(np.isnan(series), -np.inf, series), axis=1), np.nan)
    table = {
        "server_id": rep(srv.ids),
        "metric": np.tile(np.array(metrics), n),
        "archetype": rep([ARCHETYPES[a].name for a in srv.archetype]),
        "growth_per_year": (srv.growth[:, None] * growth_strength).reshape(-1),
        "growth_model": rep(np.where(srv.compound, "compound", "linear")),
        "is_hot_service": rep(srv.hot),
        "is_job_server": rep(srv.on_off),
        "has_memory_creep": rep(srv.creep),
        "bursts_per_year": rep(srv.burst_rate * 365.25),
        "level_p95_at_start": srv.level_p95[:, idx].reshape(-1),
        "workload_moves_history": rep(world.moves[:days].sum(axis=0)),
        "workload_moves_future": rep(world.moves[days:].sum(axis=0)),
        "capacity_events_history": rep(history),
        "capacity_events_future": rep(future),
        "future_max_daily_p95": pa.array(peak, pa.float64(), from_pandas=True),
    }
    for t in thresholds:
        above = series > t
        first = np.where(above.any(axis=1), above.argmax(axis=1), -1)
        table[f"first_cross_{int(t)}_date"] = pa.array(
            [None if f < 0 else _date(start, days + f) for f in first], pa.date32()
        )
    return pa.table(table)
