"""Daily operations through the real CLI: a training build, a --full-refresh build that reuses
the stored run (same forecasts, history kept), a build with one new day (reuse, archive and
forecast-vs-actual grow), and `--retrain` with a changed champion var (a new run, both reasons
recorded, champion history per run)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import PROJECT_VARS, capfc, isolated_env

pytestmark = pytest.mark.dbt

SNAPSHOT = {
    "decisions": "select * from main_marts.fct_training_decisions",
    "registry": "select * from main_marts.fct_model_registry",
    "forecasts": "select server_id, metric, model, horizon_days, yhat_pct, run_id, origin_date "
    "from main_marts.fct_champion_forecasts",
    "archive": "select * from main_marts.fct_forecast_archive",
    "actuals": "select * from main_marts.fct_forecast_archive_actuals",
    "risk_history": "select * from main_marts.fct_capacity_risk_history",
    "server_risk_history": "select * from main_marts.fct_risk_history",
    "champion_history": "select * from main_marts.fct_forecast_champion_history",
    "champions": "select * from main_marts.fct_forecast_champions",
}


@dataclass
class Build:
    output: str  # stdout + stderr
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


# The seed's random forest and gradient boosting are the slowest fits and exercise no cadence
# path the global model (joblib artifact) and Prophet (JSON artifact) do not: off here.
QUICK_MODELS = {
    "forecast_models": {
        name: {**params, "enabled": params.get("enabled", False)}
        | ({"enabled": False} if name in ("random_forest", "gradient_boosting") else {})
        for name, params in PROJECT_VARS["forecast_models"].items()
    }
}


def _build(work: Path, raw: Path, *extra: str, vars_: dict | None = None) -> Build:
    env = isolated_env(work)
    prefix = ("--vars", json.dumps({**QUICK_MODELS, **(vars_ or {})}))
    done = capfc(*prefix, "build", "--raw-root", str(raw), *extra, env=env)
    with duckdb.connect(str(work / "warehouse" / "capacity_forecaster.duckdb"), read_only=True) as con:
        tables = {name: con.sql(sql).df() for name, sql in SNAPSHOT.items()}
    return Build(done.stdout + done.stderr, tables)


@pytest.fixture(scope="module")
def daily(small_fleet, tmp_path_factory) -> dict[str, Build]:
    work = tmp_path_factory.mktemp("daily")
    raw = work / "raw"
    shutil.copytree(small_fleet.raw, raw)
    partitions = sorted((raw / "metrics").iterdir())
    held_back = work / "held_back"
    held_back.mkdir()
    shutil.move(partitions[-1], held_back / partitions[-1].name)
    builds = {"train": _build(work, raw)}
    builds["refresh"] = _build(work, raw, "--full-refresh")
    shutil.move(held_back / partitions[-1].name, raw / "metrics" / partitions[-1].name)
    builds["new_day"] = _build(work, raw)
    builds["retrain"] = _build(work, raw, "--retrain", vars_={"champion_min_servers": 29})
    return builds


def _latest(decisions: pd.DataFrame) -> dict[str, pd.Series]:
    ordered = decisions.sort_values("decision_id")
    return {c: ordered[ordered.component == c].iloc[-1] for c in ("forecast", "risk")}


def test_first_build_trains_both_components(daily):
    decisions = daily["train"].tables["decisions"]
    assert sorted(decisions.component) == ["forecast", "risk"]
    assert (decisions.decision == "retrain").all()
    assert decisions.reason.str.contains("no registered run").all()
    registry = daily["train"].tables["registry"]
    assert set(registry.component) == {"forecast", "risk"} and registry.is_in_use.all()
    # the decision and the fits are reported; Prophet's import chatter is not
    output = daily["train"].output
    assert "[capacity_forecaster] forecast models: retrain run" in output
    assert "prophet fits" in output
    assert "Importing plotly failed" not in output and "Mean of empty slice" not in output


def test_full_refresh_reuses_the_run_and_keeps_the_record(daily):
    train, refresh = daily["train"].tables, daily["refresh"].tables
    latest = _latest(refresh["decisions"])
    for component in ("forecast", "risk"):
        assert latest[component].decision == "reuse", latest[component].reason
        assert latest[component].run_id == _latest(train["decisions"])[component].run_id
    # the decision log, registry and histories survived --full-refresh
    assert len(refresh["decisions"]) == 4
    assert len(refresh["registry"]) == len(train["registry"])
    assert len(refresh["champion_history"]) == len(train["champion_history"]) > 0
    assert refresh["risk_history"].run_id.nunique() == 2
    assert len(refresh["risk_history"]) == 2 * len(train["risk_history"]) > 0
    assert refresh["server_risk_history"].run_id.nunique() == 2
    # same origin: the archive keeps the first build's forecast of record, adds nothing
    assert len(refresh["archive"]) == len(train["archive"]) > 0
    # scoring from the stored models gives exactly the training build's forecasts
    keys = ["server_id", "metric", "horizon_days"]
    both = train["forecasts"].merge(refresh["forecasts"], on=keys, suffixes=("_t", "_r"))
    assert len(both) == len(train["forecasts"]) > 0
    assert (both.model_t == both.model_r).all()
    assert (both.yhat_pct_t == both.yhat_pct_r).all()
    assert "reproduce all" in daily["refresh"].output


def test_a_new_day_is_scored_with_the_stored_run_and_archived(daily):
    before, after = daily["refresh"].tables, daily["new_day"].tables
    latest = _latest(after["decisions"])
    assert latest["forecast"].decision == "reuse" and latest["risk"].decision == "reuse"
    origin_before = before["forecasts"].origin_date.max()
    origin_after = after["forecasts"].origin_date.max()
    assert (origin_after - origin_before).days == 1
    assert set(after["archive"].origin_date) == {origin_before, origin_after}
    # yesterday's forecast for the new day now has its actual: one query away
    known = after["actuals"]
    assert len(known) > 0 and set(known.origin_date) == {origin_before}
    assert (known.forecast_date == pd.Timestamp(origin_after)).all()
    assert (known.abs_error_pct - (known.actual_pct - known.yhat_pct).abs()).abs().max() < 1e-9


def test_retrain_with_a_changed_config_makes_a_new_run(daily):
    before, after = daily["new_day"].tables, daily["retrain"].tables
    latest = _latest(after["decisions"])
    old = _latest(before["decisions"])
    assert latest["forecast"].decision == "retrain"
    assert "forced" in latest["forecast"].reason
    assert "champion_min_servers" in latest["forecast"].reason  # the config hash changed too
    assert latest["forecast"].run_id != old["forecast"].run_id
    assert latest["risk"].decision == "retrain" and "forced" in latest["risk"].reason
    registry = after["registry"]
    forecast_runs = registry[registry.component == "forecast"].groupby("run_id").is_in_use.first()
    assert len(forecast_runs) == 2 and forecast_runs[latest["forecast"].run_id]
    assert not forecast_runs[old["forecast"].run_id]
    history = after["champion_history"]
    assert history.run_id.nunique() == 2
    second = history[history.run_id == latest["forecast"].run_id]
    assert second.previous_champion_model.notna().all()
    assert (after["champions"].run_id == latest["forecast"].run_id).all()
