"""Write hourly metrics and the inventory in the raw data contract (shared by every importer).

Every import source owns its output files, named `import-<source>-<fingerprint>.parquet` (one
per UTC day, under `metrics/date=YYYY-MM-DD/`). Re-importing the same source replaces exactly
those files (idempotent); another source never overwrites them, whatever its file name.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from capacity_forecaster.checksums import sha256_file
from capacity_forecaster.queries import one_row

INVENTORY_FILE = "servers.parquet"
GENERATOR_FILE = "part-0.parquet"  # what `capfc generate` writes per partition
IMPORT_PREFIX = "import-"
INVENTORY_COLUMNS = {
    "server_id": pa.string(),
    "archetype": pa.string(),
    "instance_type": pa.string(),
    "vcpus": pa.int32(),
    "memory_gb": pa.int32(),
    "region": pa.string(),
    "business_unit": pa.string(),
    "environment": pa.string(),
    "commissioned_date": pa.date32(),
    "decommissioned_date": pa.date32(),
    # optional columns (absent from older inventories; staging adds them as NULL)
    "owner": pa.string(),
    "disk_mbps": pa.float64(),  # disk throughput capacity, MB/s
    "network_mbps": pa.float64(),  # network bandwidth capacity, Mbit/s
    "last_resized_date": pa.date32(),
}


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_.") or "import"


def sql_ident(name: str) -> str:
    """A quoted identifier: any column name, quotes included, stays a name."""
    return '"' + name.replace('"', '""') + '"'


def sql_string(text: str) -> str:
    """A string literal, for the few places DuckDB takes no parameter (COPY targets)."""
    return "'" + text.replace("'", "''") + "'"


def output_name(label: str, fingerprint: str) -> str:
    return f"{IMPORT_PREFIX}{safe_name(label)}-{fingerprint[:10]}.parquet"


def file_output_name(path: Path) -> str:
    """Source file stem + a content fingerprint: same content -> same name, wherever it lives."""
    return output_name(path.stem, sha256_file(path))


def request_output_name(label: str, *parts: object) -> str:
    """For API sources: a fingerprint of the request (endpoint, selection, time range)."""
    return output_name(label, hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest())


@dataclass
class WriteResult:
    hourly_rows: int
    days: int
    files: list[Path]
    replaced: int  # files of an earlier import of the same source that no longer apply
    overlaps: int = 0  # server-hours also present in other files of the same partitions
    overlap_files: list[str] = field(default_factory=list)


def write_hourly(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    out_root: Path,
    name: str,
    metrics: Sequence[str],
) -> WriteResult:
    """Write `relation` (naive UTC `hour`, `server_id`, `<metric>_p95` percent) once, one file
    per UTC day, through a staging folder; then swap the files in and drop stale ones."""
    staging = out_root / ".import-staging" / f"{name}-{uuid.uuid4().hex[:8]}"
    staging.parent.mkdir(parents=True, exist_ok=True)
    columns = ", ".join(f"cast({sql_ident(m + '_p95')} as float) as {sql_ident(m + '_p95')}" for m in metrics)
    try:
        con.execute(f"""copy (
                select timezone('UTC', hour) as "timestamp", server_id, {columns},
                       cast(hour as date) as "date"
                from {relation} where hour is not null order by hour, server_id
            ) to {sql_string(str(staging))}
            (format parquet, partition_by ("date"), compression zstd, filename_pattern 'part_{{i}}')""")
        hourly_rows = one_row(con.execute(f"select count(*) from {relation} where hour is not null"))[0]
        previous = {p.parent.name: p for p in (out_root / "metrics").glob(f"date=*/{name}")}
        written = []
        for folder in sorted(staging.glob("date=*")):
            parts = sorted(folder.glob("*.parquet"))
            target = out_root / "metrics" / folder.name / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if len(parts) > 1:  # DuckDB split a partition: merge into the one file we own
                pq.write_table(
                    pa.concat_tables(pq.read_table(p) for p in parts), parts[0], compression="zstd"
                )
            os.replace(parts[0], target)
            written.append(target)
        stale = [p for day, p in previous.items() if day not in {w.parent.name for w in written}]
        for path in stale:
            path.unlink()
            if not any(path.parent.iterdir()):
                path.parent.rmdir()  # an empty day folder would look like data to `capfc run`
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    result = WriteResult(hourly_rows, len(written), written, len(stale))
    result.overlaps, result.overlap_files = _overlaps(con, relation, written, name)
    return result


def _overlaps(
    con: duckdb.DuckDBPyConnection, relation: str, written: Iterable[Path], name: str
) -> tuple[int, list[str]]:
    others = [str(p) for w in written for p in sorted(w.parent.glob("*.parquet")) if p.name != name]
    if not others:
        return 0, []
    rows = one_row(
        con.execute(
            f"""select count(*), list(distinct other.filename)
        from read_parquet(?, union_by_name = true, filename = true) as other
        join {relation} as mine
          on mine.server_id = cast(other.server_id as varchar)
         and mine.hour = cast(try_cast(other."timestamp" as timestamptz) as timestamp)""",
            [others],
        )
    )
    return int(rows[0]), sorted(Path(f).name for f in rows[1] or [])


def inventory_server_ids(out_root: Path) -> set[str]:
    files = sorted((out_root / "inventory").glob("*.parquet"))
    if not files:
        return set()
    return {r for f in files for r in pq.read_table(f, columns=["server_id"]).column(0).to_pylist()}


def read_inventory(out_root: Path) -> list[dict]:
    path = out_root / "inventory" / INVENTORY_FILE
    return pq.read_table(path).to_pylist() if path.exists() else []


def write_inventory(out_root: Path, rows: list[dict]) -> None:
    """Rewrite inventory/servers.parquet with every contract column (atomic replace)."""
    path = out_root / "inventory" / INVENTORY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.schema(list(INVENTORY_COLUMNS.items()))
    table = pa.Table.from_pylist([{c: r.get(c) for c in INVENTORY_COLUMNS} for r in rows], schema=schema)
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def merge_inventory(out_root: Path, rows: list[dict]) -> int:
    """Add servers to inventory/servers.parquet; servers already in any inventory file are left
    as they are (change them with `capfc import inventory`)."""
    known = inventory_server_ids(out_root)
    added = [r for r in rows if r["server_id"] is not None and r["server_id"] not in known]
    if added or not (out_root / "inventory" / INVENTORY_FILE).exists():
        write_inventory(out_root, read_inventory(out_root) + added)
    return len(added)


def foreign_files(raw_root: Path) -> list[Path]:
    """Files under a raw root that `capfc generate` did not write (imports, hand-landed data)."""
    metrics = [p for p in (raw_root / "metrics").glob("date=*/*.parquet") if p.name != GENERATOR_FILE]
    inventory = [p for p in (raw_root / "inventory").glob("*.parquet") if p.name != INVENTORY_FILE]
    return sorted(metrics + inventory)
