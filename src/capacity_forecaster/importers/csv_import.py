"""`capfc import csv`: long or wide CSV exports -> hourly P95 in the raw data contract.

* long: timestamp, server_id, metric, value (one measurement a row);
  wide: timestamp, server_id, one column per metric. Column names are mappable.
* any sampling interval (1-minute, 5-minute, hourly...): resampled to hourly P95 (linear
  interpolation, as quantile_cont) over the samples in each UTC hour.
* timestamps: with an offset they are converted to UTC; naive ones are read in `timezone`.
* units: `percent` (0-100), `fraction` (0-1, scaled by 100) or `auto` (fraction when every
  value is <= 1, with a warning).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb

from capacity_forecaster.importers.contract import METRICS, merge_inventory, write_hourly


class CsvImportError(ValueError):
    """The CSV cannot be imported; the message names the file and column."""


@dataclass
class CsvImportResult:
    rows_in: int
    hourly_rows: int
    servers: int
    servers_added: int
    units: str
    sampling_minutes: float | None


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def import_csv(
    path: Path,
    out_root: Path,
    *,
    layout: str = "long",
    timestamp_column: str = "timestamp",
    server_column: str = "server_id",
    metric_column: str = "metric",
    value_column: str = "value",
    metric_map: Mapping[str, str] | None = None,
    timezone: str = "UTC",
    units: str = "auto",
    archetype: str = "unknown",
) -> CsvImportResult:
    """`metric_map` maps contract metric -> the name in the file (metric value for long,
    column name for wide); by default the contract names (cpu, memory, disk_io, network)."""
    if layout not in ("long", "wide") or units not in ("auto", "percent", "fraction"):
        raise CsvImportError("layout must be long|wide and units auto|percent|fraction")
    mapping = {m: m for m in METRICS} | dict(metric_map or {})
    con = duckdb.connect()
    con.execute(f"set TimeZone = '{timezone.replace(chr(39), '')}'")
    try:
        literal = "'" + str(path).replace("'", "''") + "'"
        con.execute(
            f"create view src as select * from read_csv({literal}, header = true, all_varchar = true)"
        )
        con.execute("select count(*) from src").fetchone()
    except duckdb.Error as exc:
        raise CsvImportError(f"{path}: cannot read as CSV: {exc}") from exc
    columns = {c for (c,) in con.sql("select column_name from (describe src)").fetchall()}
    needed = [timestamp_column, server_column]
    if layout == "long":
        needed += [metric_column, value_column]
    missing = [c for c in needed if c not in columns]
    if missing or (layout == "wide" and not any(mapping[m] in columns for m in METRICS)):
        raise CsvImportError(
            f"{path}: missing column(s) {missing or list(mapping.values())}; found {sorted(columns)}"
        )
    ts, server = _quote(timestamp_column), _quote(server_column)
    if layout == "long":
        inverse = {v: k for k, v in mapping.items()}
        cases = " ".join(f"when {_quote(metric_column)} = '{v}' then '{k}'" for v, k in inverse.items())
        con.execute(f"""create view samples as
            select {ts} as ts_text, {server} as server_id, case {cases} end as metric,
                   try_cast({_quote(value_column)} as double) as value from src""")
    else:
        parts = [
            f"select {ts} as ts_text, {server} as server_id, '{m}' as metric, "
            f"try_cast({_quote(mapping[m])} as double) as value from src"
            for m in METRICS
            if mapping[m] in columns
        ]
        con.execute("create view samples as " + " union all ".join(parts))
    # TIMESTAMPTZ parses explicit offsets; naive strings are read in the session TimeZone.
    con.execute("""create view parsed as
        select try_cast(ts_text as timestamptz) as ts, server_id, metric, value from samples""")
    bad = con.sql(
        "select count(*) filter (where ts is null), count(*) filter (where metric is null), "
        "count(*) from parsed"
    ).fetchone()
    assert bad is not None  # an aggregate returns one row
    if bad[0]:
        example = con.sql(
            "select ts_text from samples where try_cast(ts_text as timestamptz) is null limit 1"
        ).fetchone()
        assert example is not None  # bad[0] rows match
        raise CsvImportError(
            f"{path}: column {timestamp_column!r} has {bad[0]} unreadable timestamp(s), e.g. {example[0]!r}"
        )
    if bad[1]:
        raise CsvImportError(f"{path}: {bad[1]} row(s) with a metric not in {sorted(mapping.values())}")
    top_row = con.sql("select max(value) from parsed").fetchone()
    assert top_row is not None  # an aggregate returns one row
    top = top_row[0]
    chosen = units
    if units == "auto":
        chosen = "fraction" if top is not None and top <= 1.0 else "percent"
        if chosen == "fraction":
            warnings.warn(
                f"{path}: every value is <= 1, reading them as fractions (x100); "
                "pass units='percent' if they are percentages",
                stacklevel=2,
            )
    scale = 100.0 if chosen == "fraction" else 1.0
    step_row = con.sql("""select median(gap) from (select epoch(ts - lag(ts) over (partition by server_id,
        metric order by ts)) / 60 as gap from parsed)""").fetchone()
    assert step_row is not None  # an aggregate returns one row
    step = step_row[0]
    con.execute(f"""create view hourly as
        select date_trunc('hour', ts) as timestamp, server_id,
               {
        ", ".join(
            f"quantile_cont(value * {scale}, 0.95) filter (where metric = '{m}') as {m}_p95" for m in METRICS
        )
    }
        from parsed group by all""")
    hourly_rows = write_hourly(con, "hourly", out_root, path.stem)
    servers = [s for (s,) in con.sql("select distinct server_id from hourly order by 1").fetchall()]
    first = dict(con.sql("select server_id, cast(min(timestamp) as date) from hourly group by 1").fetchall())
    added = merge_inventory(
        out_root, [{"server_id": s, "archetype": archetype, "commissioned_date": first[s]} for s in servers]
    )
    return CsvImportResult(bad[2], hourly_rows, len(servers), added, chosen, step)
