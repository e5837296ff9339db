"""The EDA pattern tests pass on the synthetic fleet and fail on flat, pattern-free data."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import PROJECT_DIR, WAREHOUSE_ONLY, Warehouse, capfc, isolated_env

from capacity_forecaster.config import load_vars

pytestmark = pytest.mark.dbt
EDA_TESTS = ("assert_quarter_end_uplift_present", "assert_diurnal_cycle_present", "assert_metrics_correlated")
# The bars the EDA tests set (tests/eda/_eda__tests.yml), checked here on the raw data directly.
MIN_DIURNAL_SWING_PCT = 5.0
MIN_CPU_NETWORK_CORR = 0.2
MIN_QUARTER_END_RATIO = 1.02


def raw_pattern_stats(raw: Path) -> dict[str, float]:
    """The three patterns measured from the raw Parquet, independently of the dbt models."""
    window = load_vars(PROJECT_DIR)["quarter_end_window_days"]
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute(f"""create view hourly as
        select server_id, timestamp as measured_at, cpu_p95 as cpu, network_p95 as network
        from read_parquet('{raw}/metrics/*/*.parquet')""")
    con.execute("""create view daily as
        select server_id, cast(measured_at as date) as day,
               quantile_cont(cpu, 0.95) as cpu, quantile_cont(network, 0.95) as network
        from hourly group by all""")
    # Median over servers of (busiest - quietest hour of day) of mean hourly CPU.
    swing = con.sql("""select median(swing) from (
        select server_id, max(cpu) - min(cpu) as swing
        from (select server_id, hour(measured_at) as hour_of_day, avg(cpu) as cpu from hourly group by all)
        group by server_id)""").fetchone()
    corr = con.sql("select corr(cpu, network) from daily").fetchone()
    # Fleet CPU in the last `window` days of each quarter vs the two weeks before them.
    ratio = con.sql(f"""with fleet as (
            select day, avg(cpu) as cpu,
                   cast(last_day(date_trunc('quarter', day) + interval 2 month) as date) - day as to_end
            from daily group by day)
        select avg(cpu) filter (where to_end < {window})
               / avg(cpu) filter (where to_end between {window} and {window} + 13)
        from fleet""").fetchone()
    assert swing and corr and ratio
    return {"diurnal_swing_pct": swing[0], "cpu_network_corr": corr[0], "quarter_end_ratio": ratio[0]}


def write_flat_fleet(root, servers: int = 3, days: int = 45) -> None:
    rng = np.random.default_rng(0)
    start = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    ids = [f"flat-{i}" for i in range(servers)]
    for day in range(days):
        ts = [start + dt.timedelta(days=day, hours=h) for h in range(24) for _ in ids]
        sid = [s for _ in range(24) for s in ids]
        n = len(ts)
        folder = root / "metrics" / f"date={(start + dt.timedelta(days=day)).date()}"
        folder.mkdir(parents=True)
        pq.write_table(
            pa.table(
                {
                    "timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
                    "server_id": sid,
                    "cpu_p95": 50 + rng.normal(0, 0.5, n),
                    "memory_p95": np.full(n, 40.0),
                    "disk_io_p95": 30 + rng.normal(0, 0.5, n),
                    "network_p95": 20 + rng.normal(0, 0.5, n),
                }
            ),
            folder / "part-0.parquet",
        )
    (root / "inventory").mkdir()
    pq.write_table(
        pa.table(
            {
                "server_id": ids,
                "archetype": ["web"] * servers,
                "instance_type": ["m6i.large"] * servers,
                "vcpus": [2] * servers,
                "memory_gb": [8] * servers,
                "region": ["us-east-1"] * servers,
                "business_unit": ["retail"] * servers,
                "environment": ["prod"] * servers,
                "commissioned_date": [dt.date(2024, 3, 1)] * servers,
                "decommissioned_date": pa.array([None] * servers, pa.date32()),
            }
        ),
        root / "inventory" / "servers.parquet",
    )


def test_eda_tests_fail_on_flat_data(tmp_path):
    write_flat_fleet(tmp_path / "raw")
    completed = capfc(
        "build", "--raw-root", str(tmp_path / "raw"), *WAREHOUSE_ONLY, env=isolated_env(tmp_path), check=False
    )
    assert completed.returncode != 0
    for name in EDA_TESTS:
        assert f"FAIL 1 {name}" in completed.stdout, name
    # Nothing is published from a failed build.
    assert not (tmp_path / "warehouse" / "capacity_forecaster.duckdb").exists()
    # ...and they fail because the patterns are absent, not for another reason.
    stats = raw_pattern_stats(tmp_path / "raw")
    assert stats["diurnal_swing_pct"] < MIN_DIURNAL_SWING_PCT, stats
    assert stats["cpu_network_corr"] < MIN_CPU_NETWORK_CORR, stats
    assert stats["quarter_end_ratio"] < MIN_QUARTER_END_RATIO, stats


def test_eda_tests_pass_on_synthetic_fleet(built_warehouse: Warehouse):
    # Each EDA test ran in the build and found no failing row (not skipped, not a warning).
    run_results = json.loads((Path(built_warehouse.env["DBT_TARGET_PATH"]) / "run_results.json").read_text())
    status = {r["unique_id"].split(".")[-1]: r["status"] for r in run_results["results"]}
    assert {name: status.get(name) for name in EDA_TESTS} == dict.fromkeys(EDA_TESTS, "pass")
    # The synthetic fleet carries each pattern, measured on the raw data.
    stats = raw_pattern_stats(built_warehouse.raw)
    assert stats["diurnal_swing_pct"] >= MIN_DIURNAL_SWING_PCT, stats
    assert stats["cpu_network_corr"] > MIN_CPU_NETWORK_CORR, stats
    assert stats["quarter_end_ratio"] >= MIN_QUARTER_END_RATIO, stats
