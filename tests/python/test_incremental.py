"""Incremental builds process only new (and look-back) partitions and equal a full refresh."""

from __future__ import annotations

import shutil

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import WAREHOUSE_ONLY, capfc, isolated_env

pytestmark = pytest.mark.dbt

COMPARED = {
    "main_intermediate.int_daily_metrics_aggregated": "* exclude (aggregated_at)",
    "main_intermediate.int_measurements_quarantined": "*",
    "main_intermediate.int_daily_features_computed": "*",
    "main_marts.fct_load_reconciliation": "*",
    "main_marts.fct_quarantined_measurements": "*",
}


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
    pq.write_table(pq.read_table(newest / "part-0.parquet").from_pylist(bad, rows.schema),
                   newest / "part-1.parquet")
    for partition in held_back.iterdir():
        shutil.move(partition, raw / "metrics" / partition.name)
    capfc("build", "--raw-root", str(raw), *WAREHOUSE_ONLY, env=incremental_env)

    full_env = isolated_env(tmp_path / "full")
    capfc("build", "--raw-root", str(raw), "--full-refresh", *WAREHOUSE_ONLY, env=full_env)

    con = duckdb.connect()
    con.execute(f"attach '{tmp_path}/incremental/warehouse/capacity_forecaster.duckdb' as inc (read_only)")
    con.execute(f"attach '{tmp_path}/full/warehouse/capacity_forecaster.duckdb' as full_ (read_only)")

    # Only the two new partitions plus the 3-day look-back were reprocessed by the second run.
    reasons = dict(con.sql("""
        select quarantine_reason, count(*) from inc.main_marts.fct_quarantined_measurements group by 1
    """).fetchall())
    assert reasons == {"duplicate": 4 * 2, "unknown_server": 4}  # row 1 is a duplicate first
    runs = con.sql("""
        select aggregated_at, count(distinct partition_date) as partitions
        from inc.main_intermediate.int_daily_metrics_aggregated group by 1 order by 1
    """).fetchall()
    assert len(runs) == 2
    assert runs[1][1] == 2 + 3 + 1  # new partitions + look-back days + the last loaded day
    assert runs[0][1] + runs[1][1] == small_fleet.spec.days

    for table, columns in COMPARED.items():
        left = f"select {columns} from inc.{table}"
        right = f"select {columns} from full_.{table}"
        diff = con.sql(f"({left} except all {right}) union all ({right} except all {left})")
        assert diff.fetchone() is None, f"{table} differs between incremental and full refresh"
        assert con.sql(f"select count(*) from inc.{table}").fetchone()[0] > 0
