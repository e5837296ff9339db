"""`capfc import csv|parquet`: monitoring exports -> hourly P95 in the raw data contract.

One pass: DuckDB reads the file once (CSV or Parquet, same code path), converts every sample
to percent, groups the samples of each server x UTC hour into one list, and computes the
hourly P95 (linear interpolation, as `quantile_cont`) with every count the report needs. The
hourly result (small) is written once, one file per UTC day.

* layouts: wide (a column per metric) or long (timestamp, server, metric name, value; pivoted
  to wide per server x timestamp first).
* a metric is one column or a sum of columns (`disk_read_kbps+disk_write_kbps`).
* units: percent, fraction (x100), auto (fraction when every value of the metric is <= 1), or
  an absolute unit (MHz, KB, KB/s, Mbit/s, ...) turned into percent of a capacity taken from a
  column, from the inventory (vcpus, memory_gb, disk_mbps, network_mbps) or a constant
  (`1Gbit/s`). Samples whose capacity is 0 or missing are not converted: counted, left missing.
  Values above 100 % (CPU above provisioned) are kept as they are.
* timestamps: ISO strings (with an offset -> UTC; naive -> read in `timezone`, DST rule in
  `capacity_forecaster.importers.timezones`), native timestamps, or epoch seconds/milliseconds.
  Hours and UTC days are always UTC.
* duplicates: one sample per server x timestamp is kept; when copies differ, the one with the
  highest values (compared metric by metric in contract order) - the conservative choice.
* unparseable numbers stop the import (file, column, count, example); nothing is written.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from capacity_forecaster.importers import timezones
from capacity_forecaster.importers.contract import (
    WriteResult,
    file_output_name,
    merge_inventory,
    sql_ident,
    write_hourly,
)
from capacity_forecaster.importers.errors import ImportInputError
from capacity_forecaster.importers.units import Unit, parse_constant, parse_unit, percent_factor
from capacity_forecaster.queries import one_row

TIMESTAMP_FORMATS = ("iso", "epoch-s", "epoch-ms")
# `--capacity METRIC=inventory`: the inventory column and its unit, per contract metric
INVENTORY_CAPACITY = {
    "cpu": ("vcpus", "cores"),
    "memory": ("memory_gb", "GiB"),
    "disk_io": ("disk_mbps", "MB/s"),
    "network": ("network_mbps", "Mbit/s"),
}
_NUMERIC = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|U\w+INT|FLOAT|DOUBLE|DECIMAL.*|REAL)$")
_OFFSET_RE = r"\d:\d\d(:\d\d(\.\d+)?)?\s*([zZ]|[+-]\d\d(:?\d\d)?)\s*$"  # a time followed by an offset
_MISSING = (
    "'-infinity'::double"  # NULL stand-in inside sample lists: sorts lowest, so duplicates prefer values
)


@dataclass(frozen=True)
class MetricMapping:
    """How one contract metric is read: the column(s) summed, their unit, and the capacity."""

    metric: str
    columns: tuple[str, ...]
    unit: str | None = None  # None: ImportOptions.default_unit
    capacity: str | None = None  # COLUMN[@UNIT] | inventory | constant such as 1Gbit/s


@dataclass
class ImportOptions:
    layout: str = "long"
    timestamp_column: str = "timestamp"
    timestamp_format: str = "iso"
    server_column: str = "server_id"
    metric_column: str = "metric"
    value_column: str = "value"
    mappings: Mapping[str, MetricMapping] = field(default_factory=dict)
    default_unit: str = "auto"  # for metrics without a unit of their own
    timezone: str = "UTC"
    decimal_comma: bool = False
    start: dt.datetime | None = None  # UTC, inclusive
    end: dt.datetime | None = None  # UTC, exclusive
    archetype: str = "unknown"


@dataclass
class ImportResult:
    source: Path
    output_name: str
    rows: int
    measurements: int
    hourly_rows: int
    servers: int
    servers_added: int
    days: int
    sampling_minutes: float | None
    units: dict[str, str]
    duplicates: int = 0
    ambiguous: int = 0
    nonexistent: int = 0
    outside_window: int = 0
    missing_server: int = 0
    unmapped_rows: int = 0
    no_capacity: dict[str, int] = field(default_factory=dict)
    replaced: int = 0
    overlaps: int = 0
    overlap_files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self, raw_root: str, timezone: str) -> list[str]:
        step = f"{self.sampling_minutes:g}-minute samples" if self.sampling_minutes else "sampling unknown"
        units = ", ".join(f"{m} {u}" for m, u in self.units.items())
        lines = [
            f"{self.source}: {self.rows:,} rows, {self.measurements:,} measurements ({step}; {units}) -> "
            f"{self.hourly_rows:,} hourly rows for {self.servers} servers over {self.days} UTC days "
            f"({self.servers_added} new in the inventory) in {raw_root}/metrics/date=*/{self.output_name}"
        ]
        if self.replaced:
            lines.append(f"  replaced: {self.replaced} file(s) of an earlier import of this file")
        if self.duplicates:
            lines.append(
                f"  duplicates: {self.duplicates:,} samples repeat a server and timestamp; one kept "
                "(the highest values when copies differ)"
            )
        if self.ambiguous or self.nonexistent:
            lines.append(
                f"  daylight saving ({timezone}): {self.ambiguous:,} ambiguous local times read as the "
                f"first occurrence, {self.nonexistent:,} nonexistent local times shifted forward"
            )
        for metric, count in self.no_capacity.items():
            if count:
                lines.append(
                    f"  capacity: {count:,} {metric} samples have no usable capacity (0, negative or "
                    "missing); not converted "
                    "(hours without a converted sample land empty and are quarantined as missing_value)"
                )
        if self.outside_window:
            lines.append(f"  time window: {self.outside_window:,} rows outside --start/--end skipped")
        if self.unmapped_rows:
            lines.append(f"  other metrics: {self.unmapped_rows:,} rows of metrics not mapped skipped")
        if self.missing_server:
            lines.append(
                f"  no server id: {self.missing_server:,} rows (written; quarantined as missing_server_id)"
            )
        if self.overlaps:
            lines.append(
                f"  overlap: {self.overlaps:,} server-hours are also in {', '.join(self.overlap_files[:3])}"
                f"{' ...' if len(self.overlap_files) > 3 else ''} (the quality gate keeps the first file "
                "by name and quarantines the others as duplicate)"
            )
        lines += [f"  note: {n}" for n in self.notes]
        return lines


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class _Source:
    """The file as DuckDB sees it: format, column types, and how to read a column."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, fmt: str, decimal_comma: bool):
        self.path, self.fmt, self.decimal_comma = path, fmt, decimal_comma
        reader = "read_csv(?, header = true)" if fmt == "csv" else "read_parquet(?)"
        try:
            described = con.execute(f"describe select * from {reader}", [str(path)]).fetchall()
        except duckdb.Error as exc:
            raise ImportInputError(f"{path}: cannot read as {fmt.upper()}: {_first_line(exc)}") from None
        self.sniffed: dict[str, str] = {name: kind for name, kind, *_ in described}
        # what the scan yields: a CSV is read as text except the numeric inputs (see scan)
        self.types = self.sniffed if fmt == "parquet" else dict.fromkeys(self.sniffed, "VARCHAR")

    def require(self, column: str, role: str) -> None:
        if column not in self.types:
            raise ImportInputError(
                f"{self.path}: no column {column!r} ({role}); columns: {', '.join(sorted(self.types))}"
            )

    def is_text(self, column: str) -> bool:
        return self.fmt == "parquet" and self.types[column] == "VARCHAR"

    def number(self, column: str) -> str:
        """SQL reading a column as DOUBLE. CSV numbers are parsed by the reader (see scan);
        text columns of a Parquet file are parsed here (failures counted by `unparsed`)."""
        ref = sql_ident(column)
        if self.fmt == "csv" or _NUMERIC.match(self.types[column]):
            return f"cast({ref} as double)"
        if not self.is_text(column):
            raise ImportInputError(f"{self.path}: column {column!r} is {self.types[column]}, not a number")
        text = f"replace({ref}, ',', '.')" if self.decimal_comma else ref
        return f"try_cast(trim({text}) as double)"

    def unparsed(self, column: str) -> str:
        return f"nullif(trim({sql_ident(column)}), '') is not null and {self.number(column)} is null"

    def scan(self, numeric: set[str]) -> str:
        """The FROM clause. A CSV is read with its numeric columns typed DOUBLE and
        store_rejects on: a value that does not parse is recorded (and stops the import)."""
        if self.fmt == "parquet":
            return "read_parquet($path)"
        types = ", ".join("'DOUBLE'" if c in numeric else "'VARCHAR'" for c in self.types)
        decimal = ", decimal_separator = ','" if self.decimal_comma else ""
        return f"read_csv($path, header = true, types = [{types}], store_rejects = true{decimal})"


@dataclass
class _Metric:
    metric: str
    inputs: list[str]  # input aliases summed
    unit: Unit | None  # None: auto (percent or fraction, decided after the scan)
    capacity: str | None  # SQL in the `flagged` scope: an input alias, "inventory_<col>" or $param
    factor: float  # value / capacity * factor = percent (value * factor without capacity)
    capacity_label: str = ""  # for messages: the column, "inventory disk_mbps" or the constant


@dataclass
class _Plan:
    metrics: list[_Metric]
    inputs: dict[str, str] = field(default_factory=dict)  # column or long-layout name -> alias
    params: dict = field(default_factory=dict)
    inventory_columns: set[str] = field(default_factory=set)  # capacities joined from the inventory

    def alias(self, name: str) -> str:
        return self.inputs.setdefault(name, f"u{len(self.inputs)}")


def _plan(source: _Source, options: ImportOptions, contract_metrics: Sequence[str]) -> _Plan:
    unknown = sorted(set(options.mappings) - set(contract_metrics))
    if unknown:
        raise ImportInputError(
            f"unknown metric(s) {', '.join(unknown)} in --metric/--unit/--capacity; "
            f"the contract metrics are {', '.join(contract_metrics)}"
        )
    wide = options.layout == "wide"
    plan = _Plan([])
    for metric in contract_metrics:
        mapping = options.mappings.get(metric) or MetricMapping(metric, ())
        if not mapping.columns:  # contract names map to themselves...
            if wide and metric not in source.types and not mapping.capacity and mapping.unit is None:
                continue  # ...when the file has them
            mapping = MetricMapping(metric, (metric,), mapping.unit, mapping.capacity)
        if wide:
            for column in mapping.columns:
                source.require(column, f"metric {metric}")
        inputs = [plan.alias(c) for c in mapping.columns]
        declared = (mapping.unit or options.default_unit).strip()
        unit = None if declared.lower() == "auto" else parse_unit(declared)
        capacity, capacity_unit = None, None
        if mapping.capacity:
            spec = mapping.capacity.strip()
            constant = parse_constant(spec)
            if spec.lower() == "inventory":
                if metric not in INVENTORY_CAPACITY:
                    raise ImportInputError(
                        f"--capacity {metric}=inventory: the inventory has no {metric} capacity"
                    )
                column, column_unit = INVENTORY_CAPACITY[metric]
                capacity, capacity_unit = sql_ident(f"inventory_{column}"), parse_unit(column_unit)
                plan.inventory_columns.add(column)
            elif constant is not None:
                if constant[0] <= 0:
                    raise ImportInputError(f"--capacity {metric}={spec}: a capacity must be above 0")
                plan.params[f"capacity_{metric}"] = constant[0]
                capacity, capacity_unit = f"$capacity_{metric}", constant[1]
            else:
                name, _, declared = spec.partition("@")
                if wide:
                    source.require(name.strip(), f"capacity of {metric}")
                capacity = plan.alias(name.strip())
                capacity_unit = parse_unit(declared) if declared else unit
            if unit is None:
                raise ImportInputError(
                    f"metric {metric} has a capacity: declare the unit of its values with "
                    f"--unit {metric}=UNIT (e.g. MHz, KB, KB/s)"
                )
        factor = 1.0 if unit is None else percent_factor(unit, capacity_unit, metric)
        label = "" if not mapping.capacity else mapping.capacity.strip()
        if label.lower() == "inventory":
            label = f"inventory {INVENTORY_CAPACITY[metric][0]}"
        plan.metrics.append(_Metric(metric, inputs, unit, capacity, factor, label))
    if not plan.metrics:
        raise ImportInputError(
            f"{source.path}: no metric to import: map columns with --metric METRIC=COLUMN "
            f"(metrics: {', '.join(contract_metrics)}; columns: {', '.join(sorted(source.types))})"
        )
    return plan


def _timestamp_sql(source: _Source, options: ImportOptions, plan: _Plan) -> tuple[str, str, bool]:
    """(naive UTC timestamp SQL, DST-kind SQL, needs the zone_days join) for the raw column."""
    column = options.timestamp_column
    ref, kind = sql_ident(column), source.types[column]
    local = not timezones.is_utc(options.timezone)
    if local:
        timezones.zone(options.timezone)  # an unknown zone fails here, in one line
    if options.timestamp_format not in TIMESTAMP_FORMATS:
        raise ImportInputError(f"--timestamp-format must be one of {', '.join(TIMESTAMP_FORMATS)}")
    if options.timestamp_format != "iso":
        if local:
            raise ImportInputError("--timezone applies to naive timestamps; epoch timestamps are UTC")
        if source.fmt == "parquet" and not _NUMERIC.match(kind):
            raise ImportInputError(f"{source.path}: column {column!r} is {kind}, not epoch numbers")
        scale = 1_000_000 if options.timestamp_format == "epoch-s" else 1_000
        return f"make_timestamp(cast(round(cast({ref} as double) * {scale}) as bigint))", "null", False
    if _NUMERIC.match(source.sniffed[column]):
        raise ImportInputError(
            f"{source.path}: column {column!r} holds numbers: pass --timestamp-format epoch-s or epoch-ms"
        )
    if kind == "TIMESTAMP WITH TIME ZONE":
        return f"cast({ref} as timestamp)", "null", False  # the session TimeZone is UTC
    text = kind == "VARCHAR"
    naive = f"try_cast({ref} as timestamp)" if text else f"cast({ref} as timestamp)"
    if not local:  # strings with an offset are converted; naive ones are UTC
        return (f"cast(try_cast({ref} as timestamptz) as timestamp)" if text else naive), "null", False
    converted = (
        f"({naive} - to_seconds(case when z.window_end is null or {naive} < z.window_end "
        "then z.offset_before_s else z.offset_after_s end))"
    )
    dst = f"case when {naive} >= z.window_start and {naive} < z.window_end then z.window_kind end"
    if text:  # a string with its own offset is absolute, whatever --timezone says
        plan.params["offset_re"] = _OFFSET_RE
        offset = f"regexp_matches({ref}, $offset_re)"
        converted = (
            f"case when {offset} then cast(try_cast({ref} as timestamptz) as timestamp) else {converted} end"
        )
        dst = f"case when not {offset} then {dst} end"
    return converted, dst, True


def _samples_sql(source: _Source, options: ImportOptions, plan: _Plan) -> tuple[str, dict[str, str]]:
    """CTEs ending in `samples`: server_id, ts (naive UTC), dst_kind, src_rows, src_dups,
    src_unmapped, one column per input alias. Also {text column: aggregate counting values
    that are not numbers} for Parquet text columns."""
    ts_sql, dst_sql, zone_join = _timestamp_sql(source, options, plan)
    zone = ""
    if zone_join:
        local_date = f"cast(try_cast({sql_ident(options.timestamp_column)} as timestamp) as date)"
        zone = f"left join zone_days z on z.local_date = {local_date}"
    server = f"cast({sql_ident(options.server_column)} as varchar)"
    if options.layout == "wide":
        numeric = set(plan.inputs)
        if options.timestamp_format != "iso":
            numeric.add(options.timestamp_column)
        columns = ", ".join(f"{source.number(name)} as {alias}" for name, alias in plan.inputs.items())
        text = [n for n in plan.inputs if source.is_text(n)]
        columns += "".join(f", {source.unparsed(n)} as unparsed_{plan.inputs[n]}" for n in text)
        checks = {n: f"count(*) filter (where unparsed_{plan.inputs[n]})" for n in text}
        return (
            f"""samples as (
                select {server} as server_id, {ts_sql} as ts, {dst_sql} as dst_kind,
                       1 as src_rows, 0 as src_dups, 0 as src_unmapped, {columns}
                from {source.scan(numeric)} {zone})""",
            checks,
        )
    numeric = {options.value_column} | (
        {options.timestamp_column} if options.timestamp_format != "iso" else set()
    )
    names = list(plan.inputs)
    plan.params |= {f"name{i}": name for i, name in enumerate(names)}
    is_mapped = " or ".join(f"metric_name = $name{i}" for i in range(len(names)))
    pivots = "".join(
        f", max(v) filter (where metric_name = $name{i}) as {plan.inputs[name]}"
        for i, name in enumerate(names)
    )
    check = source.unparsed(options.value_column) if source.is_text(options.value_column) else None
    return (
        f"""parsed as (
                select {server} as server_id, {ts_sql} as ts, {dst_sql} as dst_kind,
                       cast({sql_ident(options.metric_column)} as varchar) as metric_name,
                       {source.number(options.value_column)} as v
                       {f", {check} as is_unparsed" if check else ""}
                from {source.scan(numeric)} {zone}),
            per_name as (
                select server_id, ts, metric_name, any_value(dst_kind) as dst_kind, count(*) as n,
                       max(v) as v, coalesce({is_mapped}, false) as is_mapped
                       {", count(*) filter (where is_unparsed) as unparsed" if check else ""}
                from parsed group by server_id, ts, metric_name),
            samples as (
                select server_id, ts, any_value(dst_kind) as dst_kind, sum(n) as src_rows,
                       coalesce(sum(n - 1) filter (where is_mapped), 0) as src_dups,
                       coalesce(sum(n) filter (where not is_mapped), 0) as src_unmapped
                       {", sum(unparsed) as unparsed" if check else ""} {pivots}
                from per_name group by server_id, ts)""",
        {options.value_column: "sum(unparsed)"} if check else {},
    )


def _hourly_sql(
    plan: _Plan, samples: str, window: list[str], unparsed: dict[str, str], *, long: bool, zoned: bool
) -> str:
    """One aggregation: per server x UTC hour, the in-window samples as one list (percent
    values), deduplicated by timestamp, then the P95 per metric and every count. Counts that
    cannot be non-zero for this file are constants, not aggregates (the scan is the cost)."""
    per_sample, aggregates, constants = [], {}, {}
    for i, m in enumerate(plan.metrics):
        raw = "(" + " + ".join(m.inputs) + ")"
        pct = (
            f"case when {m.capacity} > 0 then {raw} / {m.capacity} * {m.factor!r} end"
            if m.capacity
            else (f"{raw} * {m.factor!r}")
        )
        per_sample += [f"{raw} as raw_{i}", f"{pct} as pct_{i}"]
        aggregates[f"measurements_{i}"] = f"count(raw_{i})"
        if m.capacity:  # no_capacity = measured - converted, within the window
            measured = f"count(raw_{i}) filter (where in_window)" if window else f"count(raw_{i})"
            aggregates[f"no_capacity_{i}"] = f"{measured} - count(pct_{i}) filter (where in_window)"
        else:
            constants[f"no_capacity_{i}"] = "0"
        if m.unit is None:
            aggregates[f"max_raw_{i}"] = f"max(raw_{i}) filter (where in_window)"
        else:
            constants[f"max_raw_{i}"] = "null"
    aggregates["rows_read"] = "sum(src_rows)" if long else "count(*)"
    aggregates["bad_timestamps"] = f"{'sum(src_rows)' if long else 'count(*)'} filter (where ts is null)"
    if window:
        aggregates["rows_outside"] = (
            f"{'sum(src_rows)' if long else 'count(*)'} filter (where not in_window and ts is not null)"
        )
    else:
        constants["rows_outside"] = "0"
    if long:
        aggregates["dups_resolved"] = "sum(src_dups)"
        aggregates["rows_unmapped"] = "sum(src_unmapped)"
    else:
        constants |= {"dups_resolved": "0", "rows_unmapped": "0"}
    for kind in ("ambiguous", "nonexistent"):
        if zoned:
            aggregates[kind] = f"count(*) filter (where in_window and dst_kind = '{kind}')"
        else:
            constants[kind] = "0"
    aggregates |= {f"unparsed_{i}": c for i, c in enumerate(unparsed.values())}
    struct = ", ".join(
        ["t := ts"] + [f"v{i} := coalesce(pct_{i}, {_MISSING})" for i in range(len(plan.metrics))]
    )
    p95 = "".join(
        f""",
            list_aggregate(list_filter(list_transform(kept, x -> x.v{i}), x -> x > {_MISSING}),
                           'quantile_cont', 0.95) as {sql_ident(m.metric + "_p95")}"""
        for i, m in enumerate(plan.metrics)
    )
    in_window = " and ".join(["ts is not null", *window])
    # without --start/--end only unreadable timestamps fall outside, and they stop the import
    hour = "case when in_window then date_trunc('hour', ts) end" if window else "date_trunc('hour', ts)"
    keep = "filter (where in_window)" if window else ""
    inventory, capacities = "", ""
    if plan.inventory_columns:
        inventory = "left join inventory_capacity inv using (server_id)"
        capacities = "".join(
            f", inv.{sql_ident(c)} as {sql_ident('inventory_' + c)}" for c in sorted(plan.inventory_columns)
        )
    return f"""create temp table hourly as
        with {samples},
        joined as (select samples.* {capacities} from samples {inventory}),
        flagged as (select *, {in_window} as in_window, {", ".join(per_sample)} from joined),
        grouped as (
            select server_id, {hour} as hour, list(struct_pack({struct})) {keep} as samples,
                   {", ".join(f"{sql} as {name}" for name, sql in aggregates.items())}
            from flagged group by all),
        deduplicated as (
            select * exclude (samples, s),
                   list_filter(s, (x, i) -> i = len(s) or s[i + 1].t <> x.t) as kept,
                   coalesce(len(s), 0) as samples_in
            from (select *, list_sort(samples) as s from grouped))
        select server_id, hour, {", ".join(aggregates)},
               {", ".join(f"{v} as {k}" for k, v in constants.items())},
               dups_resolved + samples_in - coalesce(len(kept), 0) as duplicates,
               case when len(kept) > 1 then epoch(kept[-1].t - kept[1].t) / 60 / (len(kept) - 1) end
                   as step_minutes
               {p95}
        from deduplicated"""


def _inventory_capacity(out_root: Path) -> pa.Table:
    """server_id and the capacity columns of every inventory file (NULL where absent)."""
    columns = ["server_id", *(c for c, _ in INVENTORY_CAPACITY.values())]
    rows: dict[str, dict] = {}
    for path in sorted((out_root / "inventory").glob("*.parquet")):
        table = pq.read_table(path)
        present = [c for c in columns if c in table.column_names]
        for row in table.select(present).to_pylist():
            rows[row["server_id"]] = row
    return pa.table(
        {
            "server_id": pa.array([r.get("server_id") for r in rows.values()], pa.string()),
            **{c: pa.array([r.get(c) for r in rows.values()], pa.float64()) for c in columns[1:]},
        }
    )


def _check_rejects(con: duckdb.DuckDBPyConnection, path: Path, options: ImportOptions) -> None:
    """CSV values the reader could not parse (and malformed lines): stop, naming each column."""
    rows = con.sql("""select coalesce(column_name, '(line)'), error_type, count(*), min(line),
                             arg_min(error_message, line), arg_min(csv_line, line)
                      from reject_errors group by all order by 3 desc""").fetchall()
    if not rows:
        return
    column, kind, count, line, message, text = rows[0]
    if kind == "CAST":
        example = re.search(r'Could not convert string "(.*)" to', message or "")
        value = example.group(1) if example else text
        hint = "" if options.decimal_comma or "," not in value else " (decimal commas? pass --decimal-comma)"
        detail = (
            f"column {column!r} has {count:,} value(s) that are not numbers, "
            f"e.g. {value!r} on line {line}{hint}"
        )
    else:
        detail = f"{count:,} malformed line(s) ({kind.lower()}), e.g. line {line}: {text[:80]!r}"
    others = f"; also {', '.join(f'{c!r}' for c, *_ in rows[1:4])}" if len(rows) > 1 else ""
    raise ImportInputError(f"{path}: {detail}{others}; nothing was imported")


def _check_unparsed(con: duckdb.DuckDBPyConnection, path: Path, source: _Source, columns: list[str]) -> None:
    """Parquet text columns holding values that are not numbers: stop, with count and example."""
    for i, column in enumerate(columns):
        count = one_row(con.sql(f"select coalesce(sum(unparsed_{i}), 0) from hourly"))[0]
        if count:
            query = f"select {sql_ident(column)} from read_parquet(?) where {source.unparsed(column)} limit 1"
            example = one_row(con.execute(query, [str(path)]))[0]
            hint = (
                ""
                if source.decimal_comma or "," not in example
                else " (decimal commas? pass --decimal-comma)"
            )
            raise ImportInputError(
                f"{path}: column {column!r} has {count:,} value(s) that are not numbers, "
                f"e.g. {example!r}{hint}; nothing was imported"
            )


def _check_timestamps(
    con: duckdb.DuckDBPyConnection, path: Path, source: _Source, options: ImportOptions
) -> None:
    count = one_row(con.sql("select coalesce(sum(bad_timestamps), 0) from hourly"))[0]
    if not count:
        return
    column = sql_ident(options.timestamp_column)
    reader = "read_csv(?, header = true, all_varchar = true)" if source.fmt == "csv" else "read_parquet(?)"
    test = (
        f"try_cast({column} as double) is null"
        if options.timestamp_format != "iso"
        else f"try_cast({column} as timestamp) is null and try_cast({column} as timestamptz) is null"
    )
    example = con.execute(f"select {column} from {reader} where {test} limit 1", [str(path)]).fetchone()
    shown = f", e.g. {example[0]!r}" if example else " (outside the years 1970-2100 in that zone)"
    raise ImportInputError(
        f"{path}: column {options.timestamp_column!r} has {count:,} unreadable timestamp(s){shown}; "
        "nothing was imported"
    )


def _sampling_minutes(con: duckdb.DuckDBPyConnection, within_hours: float | None) -> float | None:
    """Median gap between samples: within hours, or between hours for hourly (or coarser) data."""
    if within_hours is None:
        within_hours = one_row(
            con.sql("""select median(gap) from (
            select epoch(hour - lag(hour) over (partition by server_id order by hour)) / 60 as gap
            from hourly where hour is not null)""")
        )[0]
    return None if within_hours is None else round(float(within_hours), 2)


def import_file(
    path: Path,
    out_root: Path,
    options: ImportOptions,
    contract_metrics: Sequence[str],
    *,
    fmt: str | None = None,
) -> ImportResult:
    """Import one CSV or Parquet export into the raw contract under `out_root`."""
    fmt = fmt or ("parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv")
    if options.layout not in ("long", "wide"):
        raise ImportInputError("--layout must be long or wide")
    if not path.is_file():
        raise ImportInputError(f"{path}: no such file")
    if options.start and options.end and options.start >= options.end:
        raise ImportInputError("--start must be before --end")
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute("set preserve_insertion_order = false")
    con.execute("set enable_progress_bar = false")  # stdout carries the summary only
    source = _Source(con, path, fmt, options.decimal_comma)
    source.require(options.timestamp_column, "timestamp")
    source.require(options.server_column, "server")
    if options.layout == "long":
        source.require(options.metric_column, "metric name")
        source.require(options.value_column, "value")
    plan = _plan(source, options, contract_metrics)
    plan.params["path"] = str(path)
    samples, unparsed = _samples_sql(source, options, plan)
    zoned = "zone_days" in samples
    if zoned:
        con.register("zone_days", timezones.zone_days(options.timezone))
    if plan.inventory_columns:
        con.register("inventory_capacity", _inventory_capacity(out_root))
    window = []
    for key, op in (("start", ">="), ("end", "<")):
        if getattr(options, key):
            plan.params[key] = getattr(options, key).astimezone(dt.UTC).replace(tzinfo=None)
            window.append(f"ts {op} ${key}")

    fingerprint: dict[str, str] = {}
    hasher = threading.Thread(target=lambda: fingerprint.update(name=file_output_name(path)))
    hasher.start()  # hashing the file overlaps the scan (both release the GIL)
    try:
        sql = _hourly_sql(plan, samples, window, unparsed, long=options.layout == "long", zoned=zoned)
        con.execute(sql, plan.params)
    except duckdb.Error as exc:
        raise ImportInputError(f"{path}: {_first_line(exc)}") from None
    finally:
        hasher.join()
    if fmt == "csv":
        _check_rejects(con, path, options)
    _check_unparsed(con, path, source, list(unparsed))
    _check_timestamps(con, path, source, options)
    if not one_row(con.sql("select coalesce(sum(rows_read), 0) from hourly"))[0]:
        raise ImportInputError(f"{path}: no data rows")

    notes: list[str] = []
    units, scales = {}, {}
    n = len(plan.metrics)
    per_metric = one_row(
        con.sql(
            "select "
            + ", ".join(f"coalesce(sum(measurements_{i}), 0), max(max_raw_{i})" for i in range(n))
            + " from hourly"
        )
    )
    absent = []
    for i, m in enumerate(plan.metrics):
        count, top = per_metric[2 * i], per_metric[2 * i + 1]
        if not count:
            absent.append(m.metric)
        elif m.unit is not None:
            units[m.metric] = f"{m.unit.name} of {m.capacity_label}" if m.capacity else m.unit.name
        else:
            fraction = top is not None and top <= 1.0
            units[m.metric], scales[m.metric] = ("fraction", 100.0) if fraction else ("percent", 1.0)
            if fraction:
                notes.append(
                    f"every {m.metric} value is <= 1: read as fractions (x100); "
                    f"pass --unit {m.metric}=percent if they are percentages"
                )
    if absent:
        notes.append(f"no values for {', '.join(absent)}: left missing (quarantined as missing_value)")
    mapped = {m.metric for m in plan.metrics}
    columns = ", ".join(
        f"{sql_ident(m + '_p95')} * {scales.get(m, 1.0)!r} as {sql_ident(m + '_p95')}"
        if m in mapped
        else f"cast(null as double) as {sql_ident(m + '_p95')}"
        for m in contract_metrics
    )
    con.execute(f"create temp view contract_hourly as select hour, server_id, {columns} from hourly")
    written: WriteResult = write_hourly(
        con, "contract_hourly", out_root, fingerprint["name"], contract_metrics
    )
    first_days = con.sql(
        "select server_id, cast(min(hour) as date) from hourly "
        "where hour is not null and server_id is not null group by 1 order by 1"
    ).fetchall()
    # No commissioned_date: the first imported day is not the day a server entered service, and
    # a later backfill of older data would be quarantined before it (max_history_days bounds it).
    added = merge_inventory(
        out_root, [{"server_id": s, "archetype": options.archetype} for s, _ in first_days]
    )
    totals_query = con.sql(
        f"""select sum(rows_read), sum(rows_outside), sum(duplicates), sum(ambiguous), sum(nonexistent),
               sum(rows_unmapped), sum(rows_read) filter (where server_id is null),
               median(step_minutes) filter (where hour is not null),
               {" + ".join(f"coalesce(sum(measurements_{i}), 0)" for i in range(n))}
               {"".join(f", sum(no_capacity_{i})" for i in range(n))}
        from hourly"""
    )
    totals = one_row(totals_query)
    return ImportResult(
        source=path,
        output_name=fingerprint["name"],
        rows=int(totals[0] or 0),
        measurements=int(totals[8] or 0),
        hourly_rows=written.hourly_rows,
        servers=len(first_days),
        servers_added=added,
        days=written.days,
        sampling_minutes=_sampling_minutes(con, totals[7]),
        units=units,
        duplicates=int(totals[2] or 0),
        ambiguous=int(totals[3] or 0),
        nonexistent=int(totals[4] or 0),
        outside_window=int(totals[1] or 0),
        missing_server=int(totals[6] or 0),
        unmapped_rows=int(totals[5] or 0),
        no_capacity={m.metric: int(totals[9 + i] or 0) for i, m in enumerate(plan.metrics) if m.capacity},
        replaced=written.replaced,
        overlaps=written.overlaps,
        overlap_files=written.overlap_files,
        notes=notes,
    )
