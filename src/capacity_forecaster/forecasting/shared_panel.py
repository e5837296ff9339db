"""One panel per dbt build, shared by every Python model that needs it.

Each forecasting and risk model used to read the whole feature table into pandas and pivot it
(`panel.build_panel`): the same work five times per build, and at 10,000 servers a long
DataFrame of several GB each time. Here the matrices are filled straight from DuckDB, one
column at a time (the long table is never materialised in Python), and the result is kept
for the rest of the dbt process: dbt-duckdb runs every Python model in the process that owns
the connection, and the feature table does not change once its model has run.

The cache key is the relation's query plus a data token (row count and last day), so a
process that builds twice (a test harness) never sees a stale panel.
"""

from __future__ import annotations

import threading
import time

import duckdb
import numpy as np
import pandas as pd

from capacity_forecaster.forecasting.panel import Panel, build_panel
from capacity_forecaster.frames import TableLike, to_pandas
from capacity_forecaster.progress import log
from capacity_forecaster.queries import one_row
from capacity_forecaster.runtime import prepare_python_model

NUMERIC_TYPES = ("DOUBLE", "FLOAT", "BIGINT", "INTEGER", "HUGEINT", "SMALLINT")
_cache: dict[tuple, Panel] = {}
_lock = threading.Lock()


def load_panel(features: TableLike, servers: TableLike, calendar: TableLike) -> Panel:
    """The panel of `panel.build_panel`, with identical keys, dates and values.

    `features` a DuckDB relation (dbt.ref) is read column by column; anything else (Arrow,
    DataFrame) goes through build_panel."""
    if not isinstance(features, duckdb.DuckDBPyRelation):
        return build_panel(features, servers, calendar)
    inventory = to_pandas(servers)[["server_id", "archetype"]]
    cal = to_pandas(calendar).copy()
    cal["calendar_date"] = pd.to_datetime(cal["calendar_date"])
    cal = cal.set_index("calendar_date").sort_index()

    first, last = one_row(features.query("f", "select min(metric_date), max(metric_date) from f"))
    if first is None:
        raise ValueError("the feature table is empty: no panel to forecast from")
    dates = pd.date_range(pd.Timestamp(first), pd.Timestamp(last), freq="D")
    # Series numbered in SQL; `order` maps that numbering onto build_panel's (pandas) order.
    numbered = f"""
        with keys as (
            select
                server_id, metric,
                cast(row_number() over (order by server_id, metric) - 1 as integer) as _col
            from (select distinct server_id, metric from f)
        )
        select keys._col, cast(datediff('day', date '{pd.Timestamp(first).date()}', f.metric_date) as integer)
            as _row, f.*
        from f inner join keys using (server_id, metric)
    """
    sql_keys = features.query("f", "select distinct server_id, metric from f order by server_id, metric").df()
    keys = (
        sql_keys.merge(inventory, on="server_id", how="left")
        .sort_values(["server_id", "metric"])
        .reset_index(drop=True)
    )
    keys["archetype"] = keys["archetype"].fillna("unknown")
    order = pd.MultiIndex.from_frame(keys[["server_id", "metric"]]).get_indexer(
        pd.MultiIndex.from_frame(sql_keys[["server_id", "metric"]])
    )
    names = [
        c
        for c, t in zip(features.columns, features.types, strict=True)
        if c.startswith("p95_") and c != "p95_pct" and str(t) in NUMERIC_TYPES
    ]
    shape = (len(dates), len(keys))
    matrices = {c: _matrix(features, numbered, c, order, shape) for c in ["p95_pct", *names]}
    return Panel(dates, keys, matrices.pop("p95_pct"), matrices, cal)


def _matrix(
    features: duckdb.DuckDBPyRelation, numbered: str, column: str, order: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """(D, S) matrix of one column; NULL -> NaN."""
    part = features.query(
        "f", f'select _row, _col, cast("{column}" as double) as v from ({numbered})'
    ).fetchnumpy()
    out = np.full(shape, np.nan)
    values = part["v"]
    if np.ma.isMaskedArray(values):
        values = values.filled(np.nan)
    out[part["_row"], order[part["_col"]]] = np.asarray(values, dtype=float)
    return out


def shared_panel(features: TableLike, servers: TableLike, calendar: TableLike) -> Panel:
    """load_panel, once per process and data version (thread-safe: dbt runs two models at a
    time; the second waits for the first's panel instead of building its own). Every Python
    model starts here, so this is also where the process is prepared (capacity_forecaster.runtime)."""
    prepare_python_model()
    if not isinstance(features, duckdb.DuckDBPyRelation):
        return build_panel(features, servers, calendar)
    token = features.query("f", "select count(*), max(metric_date) from f").fetchone()
    key = (
        features.sql_query(),
        servers.sql_query() if isinstance(servers, duckdb.DuckDBPyRelation) else id(servers),
        token,
    )
    with _lock:
        panel = _cache.get(key)
        if panel is None:
            started = time.perf_counter()
            panel = load_panel(features, servers, calendar)
            _cache.clear()  # one panel at a time: a newer data version replaces the old
            _cache[key] = panel
            log(
                f"panel: {panel.n_series:,} series x {len(panel.dates):,} days, "
                f"{len(panel.features)} features, loaded in {time.perf_counter() - started:.1f}s"
            )
        return panel
