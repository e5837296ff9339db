"""The 12 planner questions in analyses/planner_q*.sql: each compiles with dbt, runs on the
published warehouse, reads public marts only, and answers what its header says (checked
against the marts directly)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import BIN, PROJECT_DIR

pytestmark = pytest.mark.dbt
QUESTIONS = sorted((PROJECT_DIR / "analyses").glob("planner_q*.sql"))


@pytest.fixture(scope="module")
def compiled(built_warehouse, tmp_path_factory) -> dict[str, str]:
    target = tmp_path_factory.mktemp("planner_target")
    env = {
        **os.environ,
        **built_warehouse.env,
        "CAPFC_DUCKDB_PATH": str(built_warehouse.path.parent / "build" / "capacity_forecaster.duckdb"),
        "DBT_TARGET_PATH": str(target),
    }
    done = subprocess.run(
        [
            *(str(BIN / "dbt"), "compile", "--profiles-dir", "profiles", "--select", "path:analyses"),
            *("--vars", f"{{raw_root: '{built_warehouse.raw}'}}"),
        ],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    files = {p.stem: p.read_text() for p in Path(target).rglob("analyses/planner_q*.sql")}
    assert sorted(files) == [q.stem for q in QUESTIONS]
    return files


@pytest.fixture(scope="module")
def answers(compiled, built_warehouse) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(built_warehouse.path), read_only=True) as con:
        return {name: con.sql(sql).df() for name, sql in compiled.items()}


def marts(built_warehouse, sql: str) -> pd.DataFrame:
    return built_warehouse.query(sql)


def test_twelve_questions_with_a_header_each():
    assert len(QUESTIONS) == 12
    for path in QUESTIONS:
        header = path.read_text().splitlines()[0]
        assert re.fullmatch(r"-- Planner question \d+: .+\?", header), path.name


def test_questions_read_public_marts_only(compiled):
    for name, sql in compiled.items():
        schemas = set(re.findall(r'"capacity_forecaster"\."(\w+)"\.', sql))
        assert schemas == {"main_marts"}, (name, schemas)


def test_q01_one_row_per_live_server(answers, built_warehouse):
    live = marts(
        built_warehouse, "select count(*) as n from main_marts.dim_servers where not is_decommissioned"
    )
    q = answers["planner_q01_current_p95_and_class"]
    assert len(q) == live.n[0] and q.server_id.is_unique
    assert q.cpu_current_p95_pct.notna().any() and q.memory_risk_class.notna().any()


def test_q02_headroom_next_quarter(answers):
    q = answers["planner_q02_headroom_by_archetype_next_quarter"]
    assert len(q) and q.quarter_label.nunique() == 1
    assert (q.min_headroom_pts <= q.avg_headroom_pts).all()
    assert (q.forecast_days_covered <= q.quarter_days).all()


def test_q03_last_quarter_actuals_of_one_server(answers):
    q = answers["planner_q03_forecast_vs_actual_last_quarter"]
    assert len(q) and q.server_id.nunique() == 1 and q.quarter_label.nunique() == 1
    assert (q.actual_max_p95_pct >= q.actual_avg_p95_pct).all()


def test_q04_probability_at_another_threshold(answers, built_warehouse):
    q = answers["planner_q04_breach_probability_other_threshold"]
    series = marts(
        built_warehouse,
        "select count(distinct server_id) as n from main_marts.fct_breach_probabilities "
        "where metric = 'memory' and window_days = 90",
    )
    assert len(q) == series.n[0] and (q.threshold_pct == 90).all() and q.probability.between(0, 1).all()


def test_q05_breaching_now_matches_the_risk_mart(answers, built_warehouse):
    q = answers["planner_q05_breaching_now"]
    expected = marts(
        built_warehouse,
        "select server_id, metric from main_marts.fct_capacity_risk "
        "where risk_state = 'breaching_now' and window_days = 90",
    )
    assert set(zip(q.server_id, q.metric, strict=True)) == set(
        zip(expected.server_id, expected.metric, strict=True)
    )
    assert (q.days_breaching >= 1).all() and (q.current_p95_pct > q.high_risk_threshold_pct).all()


def test_q06_will_breach_within_30_days(answers):
    q = answers["planner_q06_will_breach_next_30_days"]
    assert (q.days_to_breach <= 30).all()
    assert q.first_likely_breach_date.is_monotonic_increasing


def test_q07_capacity_to_add(answers, built_warehouse):
    q = answers["planner_q07_capacity_to_add"]
    at_risk = marts(
        built_warehouse, "select count(*) as n from main_marts.fct_server_summary where metrics_at_risk > 0"
    )
    assert len(q) == at_risk.n[0] > 0
    sized = q[q.is_size_known]
    added = sized[["cpu_add_vcpus", "memory_add_gb", "disk_io_add_pct", "network_add_pct"]].fillna(0)
    assert (added.sum(axis=1) > 0).all()  # every at-risk server gets something to add


def test_q08_consolidation_total(answers):
    q = answers["planner_q08_consolidation_hosts_saved"]
    groups, total = q[q.group_id.notna()], q[q.group_id.isna()]
    assert len(total) == 1
    assert total.servers.iloc[0] == groups.servers.sum()
    assert pd.isna(total.hosts_saved.iloc[0]) or total.hosts_saved.iloc[0] == groups.hosts_saved.sum()


def test_q09_accuracy_vs_28_day_mean(answers, built_warehouse):
    q = answers["planner_q09_accuracy_vs_28_day_mean"]
    champions = marts(
        built_warehouse,
        "select distinct metric, horizon_bucket from main_marts.fct_forecast_champions "
        "where n_test_forecasts > 0",
    )
    assert len(q) == len(champions)
    ratio = (q.champion_mae_pts / q.moving_average_mae_pts).round(2)
    assert ((ratio - q.mae_ratio_vs_moving_average).abs() < 0.02).all()


def test_q10_calibration_table(answers):
    q = answers["planner_q10_calibration_30_day_flags"]
    bins = q[q.probability_bin != "all"]
    assert len(q[q.probability_bin == "all"]) == 1 and len(bins)
    assert bins.mean_probability.between(0, 1).all() and bins.observed_frequency.between(0, 1).all()


def test_q11_no_change_with_a_single_run(answers, built_warehouse):
    runs = marts(built_warehouse, "select count(distinct run_id) as n from main_marts.fct_risk_history")
    if runs.n[0] == 1:
        assert answers["planner_q11_flags_changed_since_last_run"].empty


def test_q11_lists_what_changed_between_two_runs(compiled, built_warehouse, tmp_path):
    """A previous run where one at-risk server was normal and one quiet server was at risk."""
    copy = tmp_path / "capacity_forecaster.duckdb"  # the compiled SQL names this catalog
    shutil.copy(built_warehouse.path, copy)
    with duckdb.connect(str(copy)) as con:
        classes = dict(
            con.sql(
                "select server_id, risk_class from main_marts.fct_risk_history "
                "where window_days = (select max(window_days) from main_marts.fct_risk_history)"
            ).fetchall()
        )
        new = min(s for s, c in classes.items() if c in ("high_risk", "very_high_risk"))
        cleared = min(s for s, c in classes.items() if c in ("normal", "underutilized"))
        con.execute(
            "insert into main_marts.fct_risk_history select 'previous-run' as run_id, * exclude (run_id) "
            "replace (recorded_at - interval 1 day as recorded_at) from main_marts.fct_risk_history"
        )
        con.execute(
            "update main_marts.fct_risk_history set risk_class = case server_id when ? then 'normal' "
            "else 'high_risk' end where run_id = 'previous-run' and server_id in (?, ?)",
            [new, new, cleared],
        )
        changed = con.sql(compiled["planner_q11_flags_changed_since_last_run"]).df()
    assert dict(zip(changed.server_id, changed.change, strict=True)) == {new: "new", cleared: "cleared"}


def test_q12_one_row_per_partition(answers, built_warehouse):
    q = answers["planner_q12_data_quality_per_day"]
    partitions = marts(built_warehouse, "select count(*) as n from main_marts.fct_load_reconciliation")
    assert len(q) == partitions.n[0] and q.is_reconciled.all()
    assert (q.measurements_capped <= q.measurements_accepted).all()
