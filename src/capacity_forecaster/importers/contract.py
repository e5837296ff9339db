"""Write hourly metrics and inventory in the raw data contract (shared by every importer)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

METRICS = ("cpu", "memory", "disk_io", "network")
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
}


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "import"


def write_hourly(con: duckdb.DuckDBPyConnection, relation: str, out_root: Path, source: str) -> int:
    """`relation` has timestamp (TIMESTAMPTZ, on the hour), server_id and <metric>_p95 columns.
    One file per day named after the source, so re-importing the same source replaces it."""
    days = [
        d
        for (d,) in con.sql(f"select distinct cast(timestamp as date) from {relation} order by 1").fetchall()
    ]
    total = 0
    for day in days:
        table = con.sql(f"""
            select timestamp, server_id, {", ".join(f"cast({m}_p95 as float) as {m}_p95" for m in METRICS)}
            from {relation} where cast(timestamp as date) = date '{day}'
            order by timestamp, server_id""").to_arrow_table()
        folder = out_root / "metrics" / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / f"import-{safe_name(source)}.parquet", compression="zstd")
        total += table.num_rows
    return total


def merge_inventory(out_root: Path, rows: list[dict]) -> int:
    """Add servers to inventory/servers.parquet; existing rows win (edit them there)."""
    path = out_root / "inventory" / "servers.parquet"
    existing = pq.read_table(path).to_pylist() if path.exists() else []
    known = {r["server_id"] for r in existing}
    added = [{c: r.get(c) for c in INVENTORY_COLUMNS} for r in rows if r["server_id"] not in known]
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.schema(list(INVENTORY_COLUMNS.items()))
    pq.write_table(pa.Table.from_pylist(existing + added, schema=schema), path)
    return len(added)
