"""Six weeks of real VMs (a slice of the Bitbrains trace, tests/fixtures/README.md) run the
real models end to end: backtest, champions, breach probabilities and the risk backtest are
all non-empty, and over-capacity hours are capped, not lost."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import PROJECT_DIR, Warehouse, capfc, isolated_env

FIXTURE = PROJECT_DIR / "tests" / "fixtures" / "bitbrains_hourly_6w.parquet"
AS_OF = "2013-08-30 00:00:00"


def land_raw_contract(root: Path) -> int:
    table = pq.read_table(FIXTURE)
    days = pc.cast(table["timestamp"], pa.date32())
    for day in sorted(set(days.to_pylist())):
        folder = root / "metrics" / f"date={day.isoformat()}"
        folder.mkdir(parents=True)
        pq.write_table(table.filter(pc.equal(days, pa.scalar(day, pa.date32()))), folder / "part-0.parquet")
    servers = sorted(set(table["server_id"].to_pylist()))
    n = len(servers)
    nothing = pa.array([None] * n, pa.string())
    inventory = pa.table({
        "server_id": servers, "archetype": ["unknown"] * n, "instance_type": nothing,
        "vcpus": pa.array([4] * n, pa.int32()), "memory_gb": pa.array([16] * n, pa.int32()),
        "region": nothing, "business_unit": nothing, "environment": nothing,
        "commissioned_date": pa.array([dt.date(2013, 7, 19)] * n, pa.date32()),
        "decommissioned_date": pa.array([None] * n, pa.date32()),
    })  # fmt: skip
    (root / "inventory").mkdir()
    pq.write_table(inventory, root / "inventory" / "servers.parquet")
    return len(servers)


@pytest.fixture(scope="module")
def short_real(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    work = tmp_path_factory.mktemp("short_real")
    raw = work / "raw"
    land_raw_contract(raw)
    env = isolated_env(work)
    variables = {"as_of_timestamp": AS_OF, "eda_pattern_severity": "warn"}
    capfc("--vars", json.dumps(variables), "build", "--raw-root", str(raw), env=env)
    yield Warehouse(work / "warehouse" / "capacity_forecaster.duckdb", env, raw)
    shutil.rmtree(work, ignore_errors=True)


def test_six_weeks_run_the_real_models(short_real):
    forecasts = short_real.query("select * from main_marts.fct_forecasts where is_champion")
    assert len(forecasts) and not forecasts.is_low_confidence.all()
    assert (forecasts.model != "archetype_pooled").any(), (
        "mature series must not fall back to the pooled model"
    )
    splits = short_real.query("select distinct split from main_marts.fct_backtest_metrics").split
    assert set(splits) == {"validation", "test"}
    champions = short_real.query("select * from main_marts.fct_forecast_champions")
    assert len(champions) >= 4 and champions.test_mae_pct.notna().any()


def test_six_weeks_give_breach_probabilities_and_a_risk_backtest(short_real):
    risk = short_real.query("select * from main_marts.fct_capacity_risk")
    assert set(risk.window_days) == {30, 90}
    assert risk.p_breach_high.between(0, 1).all()
    assert risk.loc[risk.window_days == 90, "is_probability_extrapolated"].all()
    assert "breaching_now" in set(risk.risk_state), "the slice holds VMs saturated on its last day"
    backtest = short_real.query("""
        select * from main_marts.fct_risk_backtest
        where probability_bin = 'all' and population = 'all' and window_days = 30""")
    assert len(backtest) == 2 and (backtest.n_series_origins > 0).all()
    assert set(backtest.validation_scheme) == {"server_folds"}
    assert backtest.brier_score.notna().all()


def test_over_capacity_hours_are_capped_not_lost(short_real):
    reconciliation = short_real.query("""
        select sum(measurements_capped) as capped, sum(measurements_quarantined) as quarantined
        from main_marts.fct_load_reconciliation""")
    assert reconciliation.capped[0] > 0
    assert (
        short_real.query("select max(p95_pct) as top from main_marts.fct_server_daily_metrics").top[0] <= 100
    )
