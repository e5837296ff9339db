"""The EDA pattern tests pass on the synthetic fleet and fail on flat, pattern-free data."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import WAREHOUSE_ONLY, capfc, isolated_env

pytestmark = pytest.mark.dbt
EDA_TESTS = ("assert_quarter_end_uplift_present", "assert_diurnal_cycle_present", "assert_metrics_correlated")


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


def test_eda_tests_pass_on_synthetic_fleet(built_warehouse):
    # built_warehouse only exists because `dbt build` (EDA tests included) succeeded.
    assert built_warehouse.path.exists()
