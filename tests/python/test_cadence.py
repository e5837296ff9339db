"""Training cadence: when a build refits and when it scores with the stored run; artifacts,
pruning, and the per-day data fingerprint behind backfill detection (no dbt here)."""

from __future__ import annotations

import datetime as dt
import io
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from capacity_forecaster.config import ConfigError
from capacity_forecaster.forecasting.panel import Panel
from capacity_forecaster.progress import Progress
from capacity_forecaster.runs.artifacts import ArtifactError, ArtifactStore, new_run_id
from capacity_forecaster.runs.cadence import (
    CadenceSettings,
    RunRecord,
    changed_keys,
    daily_fingerprint,
    decide,
)
from capacity_forecaster.runs.decisions import current_run, decide_training_run

NOW = dt.datetime(2024, 6, 10, 6, 0)
ORIGIN = dt.date(2024, 6, 9)
CONFIG = {"forecast": {"models": {"prophet": {"enabled": True}}, "horizon_days": 90}}


def settings(**overrides) -> CadenceSettings:
    values = {
        "retrain_every_days": 7,
        "artifact_retention_days": 30,
        "late_data_lookback_days": 3,
        "force_retrain": False,
        "as_of_timestamp": None,
    }
    return CadenceSettings.from_json({**values, **overrides})


def panel(days: int = 60, series: int = 3, seed: int = 0) -> Panel:
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2024-04-11", periods=days, freq="D")
    keys = pd.DataFrame(
        {
            "server_id": [f"srv-{i}" for i in range(series)],
            "metric": "cpu",
            "archetype": "web",
        }
    )
    y = rng.uniform(10, 60, (days, series))
    calendar = pd.DataFrame(
        {"day_of_week": dates.dayofweek, "is_end_of_quarter": False, "is_holiday": False}, index=dates
    )
    return Panel(dates, keys, y, {"p95_lag_1_pct": y.copy()}, calendar)


def record(p: Panel, trained_at=NOW - dt.timedelta(days=1), config=CONFIG) -> RunRecord:
    origin = p.origin_index()
    return RunRecord(
        "forecast-20240609T060000-00000000",
        trained_at,
        p.dates[origin].date(),
        config,
        daily_fingerprint(p, origin),
    )


def test_fresh_run_is_reused():
    p = panel()
    run = record(p)
    decision = decide("forecast", run, None, CONFIG, daily_fingerprint(p), run.origin_date, NOW, settings())
    assert not decision.retrain
    assert decision.previous_run_id == run.run_id
    assert "1.0 days old" in decision.reason and "no backfill" in decision.reason


def test_no_registered_run_retrains():
    p = panel()
    decision = decide("forecast", None, None, CONFIG, daily_fingerprint(p), ORIGIN, NOW, settings())
    assert decision.retrain and decision.reason == "no registered run to reuse"


def test_stale_by_age_and_by_origin_retrains():
    p = panel()
    old = record(p, trained_at=NOW - dt.timedelta(days=8))
    by_age = decide("forecast", old, None, CONFIG, daily_fingerprint(p), old.origin_date, NOW, settings())
    assert by_age.retrain and "8.0 days old (retrain_every_days = 7)" in by_age.reason
    # six days old is fresh ...
    young = record(p, trained_at=NOW - dt.timedelta(days=6))
    assert not decide(
        "forecast", young, None, CONFIG, daily_fingerprint(p), young.origin_date, NOW, settings()
    ).retrain
    # ... unless a week of data arrived since (the origin moved seven days)
    moved = young.origin_date + dt.timedelta(days=7)
    by_origin = decide("forecast", young, None, CONFIG, daily_fingerprint(p), moved, NOW, settings())
    assert by_origin.retrain and "origin moved 7 days past" in by_origin.reason


def test_config_change_retrains_and_names_the_setting():
    p = panel()
    run = record(p)
    changed = {"forecast": {"models": {"prophet": {"enabled": False}}, "horizon_days": 90}}
    decision = decide("forecast", run, None, changed, daily_fingerprint(p), run.origin_date, NOW, settings())
    assert decision.retrain
    assert "model configuration changed" in decision.reason
    assert "forecast.models.prophet.enabled" in decision.reason
    assert changed_keys({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}, "d": 0}) == ["a.c", "d"]


def test_forced_retrain_with_a_fresh_run():
    p = panel()
    run = record(p)
    decision = decide(
        "forecast",
        run,
        None,
        CONFIG,
        daily_fingerprint(p),
        run.origin_date,
        NOW,
        settings(force_retrain=True),
    )
    assert decision.retrain and decision.reason.startswith("forced (capfc build --retrain")


def test_backfill_inside_the_training_window_retrains():
    p = panel()
    run = record(p)
    backfilled = panel()
    backfilled.y[10, 1] += 5.0  # a value of a day the run trained on changed
    backfilled.y[20, 2] = np.nan  # and one disappeared
    decision = decide(
        "forecast", run, None, CONFIG, daily_fingerprint(backfilled), run.origin_date, NOW, settings()
    )
    assert decision.retrain
    assert "backfill: 2 day(s) inside run" in decision.reason
    assert f"{p.dates[10]:%Y-%m-%d} .. {p.dates[20]:%Y-%m-%d}" in decision.reason


def test_late_data_inside_the_look_back_and_new_days_do_not_retrain():
    p = panel(days=60)
    run = record(p)
    later = panel(days=62)  # two new days ...
    later.y[-5, 0] += 1.0  # ... and a late correction 3 days before the run's origin
    decision = decide(
        "forecast", run, None, CONFIG, daily_fingerprint(later), run.origin_date, NOW, settings()
    )
    assert not decision.retrain, decision.reason
    # a correction just before the look-back is a backfill
    older = panel(days=62)
    older.y[-7, 0] += 1.0
    assert decide(
        "forecast", run, None, CONFIG, daily_fingerprint(older), run.origin_date, NOW, settings()
    ).retrain


def test_the_same_values_in_another_column_order_have_the_same_fingerprint():
    p = panel()
    order = np.array([2, 0, 1])
    shuffled = Panel(p.dates, p.keys.iloc[order].reset_index(drop=True), p.y[:, order], {}, p.calendar)
    assert daily_fingerprint(p) == daily_fingerprint(shuffled)
    # a new server without history leaves the past unchanged
    wider = Panel(
        p.dates,
        pd.concat([p.keys, pd.DataFrame([{"server_id": "srv-9", "metric": "cpu", "archetype": "web"}])]),
        np.hstack([p.y, np.full((len(p.dates), 1), np.nan)]),
        {},
        p.calendar,
    )
    assert daily_fingerprint(p)["values"] == daily_fingerprint(wider)["values"]


def test_calendar_change_retrains():
    p = panel()
    run = record(p)
    holidays = panel()
    holidays.calendar.loc[holidays.dates[5], "is_holiday"] = True
    decision = decide(
        "forecast", run, None, CONFIG, daily_fingerprint(holidays), run.origin_date, NOW, settings()
    )
    assert decision.retrain and "calendar features changed on 1 day(s)" in decision.reason


def test_incomplete_artifacts_retrain(tmp_path):
    store = ArtifactStore(tmp_path)
    run_id = new_run_id("forecast", NOW)
    assert "gone" in store.problem(run_id, "forecast")
    step = store.step(run_id, "backtest")
    step.parquet("backtest.parquet", pa.table({"x": [1, 2]}))
    step.finish({"seconds": 1.0})
    assert "cv step did not finish" in store.problem(run_id, "forecast")
    for name in ("cv", "models"):
        store.step(run_id, name).finish()
    assert store.problem(run_id, "forecast") is None
    (tmp_path / run_id / "backtest.parquet").write_bytes(b"truncated")
    assert "backtest.parquet is missing or changed" in store.problem(run_id, "forecast")
    with pytest.raises(ArtifactError, match="changed since run"):
        store.load_parquet(run_id, "backtest", "backtest.parquet")


def test_pruning_by_age_keeps_the_run_in_use(tmp_path):
    store = ArtifactStore(tmp_path)
    old = new_run_id("forecast", NOW - dt.timedelta(days=40))
    in_use = new_run_id("forecast", NOW - dt.timedelta(days=45))
    recent = new_run_id("forecast", NOW - dt.timedelta(days=3))
    other = new_run_id("risk", NOW - dt.timedelta(days=40))
    for run in (old, in_use, recent, other):
        store.step(run, "models").finish()
    removed = store.prune(NOW, 30, keep={in_use}, component="forecast")
    assert removed == [old]
    assert {p.name for p in tmp_path.iterdir()} == {in_use, recent, other}


def test_decision_log_round_trip_reuses_then_retrains_on_backfill(tmp_path):
    """decide_training_run over its own log, as the dbt model runs it build after build."""
    p = panel()
    forecast_settings = json.dumps({"models": {}, "horizon_days": 28, "n_jobs": 2})
    cadence = json.dumps(
        {
            "retrain_every_days": 7,
            "artifact_retention_days": 30,
            "late_data_lookback_days": 3,
            "force_retrain": False,
            "as_of_timestamp": None,
            "selection_inputs": {"champion_min_gain": 0.05},
        }
    )
    first = decide_training_run("forecast", p, None, forecast_settings, cadence, tmp_path, now=NOW)
    row = first.to_pylist()[0]
    assert row["decision"] == "retrain" and row["data_fingerprint_json"]
    for step in ("backtest", "cv", "models"):
        ArtifactStore(tmp_path).step(row["run_id"], step).finish()
    # n_jobs changes how fast, not what: no retrain
    faster = forecast_settings.replace('"n_jobs": 2', '"n_jobs": 1')
    second = decide_training_run("forecast", p, first.to_pandas(), faster, cadence, tmp_path, now=NOW)
    assert second.to_pylist()[0]["decision"] == "reuse"
    assert second.to_pylist()[0]["run_id"] == row["run_id"]
    log = pa.concat_tables([first, second]).to_pandas()
    assert current_run(log, "forecast")["decision"] == "reuse"
    p.y[5, 0] += 1
    third = decide_training_run("forecast", p, log, forecast_settings, cadence, tmp_path, now=NOW)
    assert third.to_pylist()[0]["decision"] == "retrain"
    assert "backfill" in third.to_pylist()[0]["reason"]


def test_cadence_settings_are_strict():
    with pytest.raises(ConfigError, match="cadence settings lack 'retrain_every_days'"):
        CadenceSettings.from_json({"artifact_retention_days": 1, "as_of_timestamp": None})


def test_progress_lines_are_throttled_and_say_eta():
    clock = [0.0]
    out = io.StringIO()
    progress = Progress("prophet fits", 100, unit="series", clock=lambda: clock[0], stream=out)
    for done in range(1, 101):
        clock[0] = done * 1.0  # one series a second: 100 s in all
        progress(done)
    lines = out.getvalue().splitlines()
    # one line per 15 s at most, plus the last one
    assert 6 <= len(lines) <= 8, lines
    assert lines[0] == "[capacity_forecaster] prophet fits: 15/100 series (15 %, 1.0/s, ETA 1m25s)"
    assert lines[-1].endswith("100/100 series (100 %, 1.0/s, took 1m40s)")


def test_engine_and_threads_do_not_change_the_training_config_but_params_do():
    from capacity_forecaster.runs.cadence import config_digest
    from capacity_forecaster.runs.decisions import training_config

    cadence = {"selection_inputs": {"champion_min_gain": 0.05}}
    base = {"horizon_days": 90, "n_jobs": 2, "engine": "local", "spark_remote": None, "spark_master": None}
    spark = {**base, "n_jobs": 8, "engine": "spark", "spark_master": "local[2]"}
    longer = {**base, "horizon_days": 120}
    digest = [
        config_digest(training_config("forecast", panel(), s, cadence))[1] for s in (base, spark, longer)
    ]
    assert digest[0] == digest[1] != digest[2]
