"""Incremental builds process only new (and look-back) partitions and equal a full refresh."""

from __future__ import annotations

import shutil

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import WAREHOUSE_ONLY, capfc, isolated_env

pytestmark = pytest.mark.dbt

# table -> primary key. Doubles may differ by float summation order in window frames
# (seen: <= 3e-14); everything else must be identical.
COMPARED = {
    "main_intermediate.int_daily_metrics_aggregated": ["server_id", "metric", "metric_date"],
    "main_intermediate.int_measurements_quarantined": ["source_file", "file_row_number", "metric"],
    "main_intermediate.int_daily_features_computed": ["server_id", "metric", "metric_date"],
    "main_marts.fct_load_reconciliation": ["partition_date"],
}
AUDIT_COLUMNS = {"aggregated_at"}


def assert_same_table(con, table: str, key: list[str]) -> None:
    schema, name = table.split(".")
    columns = con.sql(f"""
        select column_name, data_type from information_schema.columns
        where table_catalog = 'inc' and table_schema = '{schema}' and table_name = '{name}'
    """).fetchall()
    assert columns, table
    n_inc = con.sql(f"select count(*) from inc.{table}").fetchone()[0]
    n_full = con.sql(f"select count(*) from full_.{table}").fetchone()[0]
    assert n_inc == n_full > 0, (table, n_inc, n_full)
    on = " and ".join(f"a.{k} = b.{k}" for k in key)
    matched = con.sql(f"select count(*) from inc.{table} a join full_.{table} b on {on}").fetchone()[0]
    assert matched == n_inc, f"{table}: {n_inc - matched} rows without a twin"
    for column, data_type in columns:
        if column in AUDIT_COLUMNS or column in key:
            continue
        if data_type == "DOUBLE":
            check = (
                f"not (abs(a.{column} - b.{column}) <= 1e-9 or a.{column} is not distinct from b.{column})"
            )
        else:
            check = f"a.{column} is distinct from b.{column}"
        bad = con.sql(
            f"select count(*) from inc.{table} a join full_.{table} b on {on} where {check}"
        ).fetchone()[0]
        assert bad == 0, f"{table}.{column}: {bad} rows differ"


def test_new_day_is_incremental_and_equals_full_refresh(small_fleet, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(small_fleet.raw, raw)
    partitions = sorted((raw / "metrics").iterdir())
    held_back = tmp_path / "held_back"
    held_back.mkdir()
    for partition in partitions[-2:]:
        shutil.move(partition, held_back / partition.name)

    incremental_env = isolated_env(tmp_path / "incremental")
    capfc("build", "--raw-root", str(raw), *WAREHOUSE_ONLY, env=incremental_env)
    # A late, dirty file arrives with the new days: a duplicate, an out-of-range value and an
    # unknown server, so the incremental path must quarantine as well as accept.
    newest = sorted(held_back.iterdir())[-1]
    rows = pq.read_table(newest / "part-0.parquet").slice(0, 3)
    rows = rows.set_column(2, "cpu_p95", pc.multiply(rows["cpu_p95"], 0).cast("float32"))
    bad = rows.to_pylist()
    bad[1]["memory_p95"] = 250.0
    bad[2]["server_id"] = "srv-unknown"
    pq.write_table(
        pq.read_table(newest / "part-0.parquet").from_pylist(bad, rows.schema), newest / "part-1.parquet"
    )
    # A file with string-typed metrics arrives too. It must not change any other file's values:
    # it used to turn every file's float32 values into text in the runs that saw it (full
    # refresh), so incremental and full refresh differed by ~1e-6 (README promises 1e-9).
    strings = pq.read_table(newest / "part-0.parquet").slice(0, 2).to_pylist()
    for item in strings:
        item.update(server_id="srv-strings", cpu_p95=f"{item['cpu_p95']:.3f}")
    pq.write_table(pa.Table.from_pylist(strings), newest / "part-2.parquet")
    for partition in held_back.iterdir():
        shutil.move(partition, raw / "metrics" / partition.name)
    capfc("build", "--raw-root", str(raw), *WAREHOUSE_ONLY, env=incremental_env)

    full_env = isolated_env(tmp_path / "full")
    capfc("build", "--raw-root", str(raw), "--full-refresh", *WAREHOUSE_ONLY, env=full_env)

    con = duckdb.connect()
    con.execute(f"attach '{tmp_path}/incremental/warehouse/capacity_forecaster.duckdb' as inc (read_only)")
    con.execute(f"attach '{tmp_path}/full/warehouse/capacity_forecaster.duckdb' as full_ (read_only)")

    # Only the two new partitions plus the 3-day look-back were reprocessed by the second run.
    reasons = dict(
        con.sql("""
        select quarantine_reason, count(*) from inc.main_marts.fct_quarantined_measurements group by 1
    """).fetchall()
    )
    # row 1 of part-1 is a duplicate first; both rows of the string file are unknown servers
    assert reasons == {"duplicate": 4 * 2, "unknown_server": 4 + 4 * 2}
    runs = con.sql("""
        select aggregated_at, count(distinct partition_date) as partitions
        from inc.main_intermediate.int_daily_metrics_aggregated group by 1 order by 1
    """).fetchall()
    assert len(runs) == 2
    assert runs[1][1] == 2 + 3 + 1  # new partitions + look-back days + the last loaded day
    assert runs[0][1] + runs[1][1] == small_fleet.spec.days

    for table, key in COMPARED.items():
        assert_same_table(con, table, key)
