"""A forecast training run on a small panel: stored models reproduce the training-time
forecasts exactly, a reusing build scores a later origin without refitting, models are fitted
only where they are champions, and a partial last day never becomes the origin."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from test_forecasting import daily_frame, panel_from, settings

from capacity_forecaster.forecasting.pipeline import (
    TRAINING_FORECASTS,
    backtest_predictions,
    cv_folds,
    score_forecasts,
    train_models,
)
from capacity_forecaster.runs.artifacts import ArtifactError, ArtifactStore

RUN = "forecast-20240601T000000-0000abcd"


def make_panel(days: int = 240):
    """srv-0 and srv-2 are web servers, srv-1 a database; cpu and memory each."""
    return panel_from(daily_frame(days=days, servers=3), horizon=60)


def decisions(decision: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "component": "forecast",
                "decision": decision,
                "run_id": RUN,
                "build_id": "1" if decision == "retrain" else "2",
                "decided_at": dt.datetime(2024, 6, 1),
            }
        ]
    )


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A training run with Prophet champion for web cpu and global_hgb elsewhere."""
    root = tmp_path_factory.mktemp("artifacts")
    panel = make_panel()
    config = _settings_json()
    retrain = decisions("retrain")
    backtest_predictions(panel, retrain, config, root)
    cv_folds(panel, retrain, config, ["moving_average"], root)
    champions = pd.DataFrame(
        [
            {"archetype": "web", "metric": "cpu", "horizon_bucket": "01-07", "champion_model": "prophet"},
            {
                "archetype": "web",
                "metric": "memory",
                "horizon_bucket": "01-07",
                "champion_model": "global_hgb",
            },
            {
                "archetype": "batch",
                "metric": "cpu",
                "horizon_bucket": "08-30",
                "champion_model": "global_hgb",
            },
        ]
    )
    registry = train_models(panel, retrain, champions, config, root).to_pandas()
    return panel, root, config, registry


def _settings_json() -> str:
    s = settings(prophet=True, random_forest=True)
    return json.dumps(
        {
            "models": s.models,
            "horizon_days": s.horizon_days,
            "holdout_fraction": s.holdout_fraction,
            "cv_folds": s.cv_folds,
            "min_history_days": s.min_history_days,
            "backtest_origins": s.backtest_origins,
            "train_origin_stride_days": s.train_origin_stride_days,
            "horizons_per_origin": s.horizons_per_origin,
            "max_train_rows_per_archetype": s.max_train_rows_per_archetype,
            "max_train_rows_global": s.max_train_rows_global,
            "prophet_backtest_servers_per_archetype": s.prophet_backtest_servers_per_archetype,
            "n_jobs": 1,
            "seed": s.seed,
            "engine": "local",
            "spark_remote": None,
            "spark_master": None,
        }
    )


def test_models_are_fitted_only_where_they_are_champions(trained_run):
    _, root, _, registry = trained_run
    rows = registry.set_index("model")
    assert rows.loc["prophet", "scopes"] == "web|cpu"  # srv-0 and srv-2 cpu
    assert rows.loc["global_hgb", "scopes"] == "*"
    assert rows.loc["random_forest", "scopes"] == ""  # champion of no group: not fitted
    assert pd.isna(rows.loc["random_forest", "artifact_path"])
    files = ArtifactStore(root).manifest(RUN, "models")["files"]
    assert set(files) == {"global_hgb.joblib", "prophet.json.gz", TRAINING_FORECASTS}
    records = ArtifactStore(root).load_json_lines(RUN, "models", "prophet.json.gz")
    assert sorted((r["server_id"], r["metric"]) for r in records) == [("srv-0", "cpu"), ("srv-2", "cpu")]
    assert all(json.loads(r["model_json"])["__prophet_version"] for r in records)  # Prophet's own JSON


def test_stored_models_reproduce_the_training_time_forecasts_exactly(trained_run):
    panel, root, config, registry = trained_run
    expected = ArtifactStore(root).load_parquet(RUN, "models", TRAINING_FORECASTS).to_pandas()
    assert set(expected["model"]) == {"prophet", "global_hgb"}
    scored = score_forecasts(panel, decisions("reuse"), registry, config, root)
    keys = ["model", "server_id", "metric", "horizon_days"]
    merged = expected.merge(scored[[*keys, "yhat_pct"]], on=keys, suffixes=("", "_scored"))
    assert len(merged) == len(expected) > 0
    assert (merged["yhat_pct"] == merged["yhat_pct_scored"]).all()  # bit for bit
    # random_forest was not fitted: no forecasts from it; the baselines are always scored
    assert set(scored["model"]) == {
        "prophet",
        "global_hgb",
        "seasonal_naive",
        "last_value",
        "moving_average",
        "archetype_pooled",
    }


def test_a_changed_artifact_is_refused(trained_run, tmp_path):
    import shutil

    panel, root, config, registry = trained_run
    copy = tmp_path / "artifacts"
    shutil.copytree(root, copy)
    path = copy / RUN / "global_hgb.joblib"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ArtifactError, match="missing or changed since run"):
        score_forecasts(panel, decisions("reuse"), registry, config, copy)


def test_a_later_origin_is_scored_with_the_stored_models(trained_run):
    _, root, config, registry = trained_run
    later = make_panel(days=247)  # a week of new data, same history
    scored = score_forecasts(later, decisions("reuse"), registry, config, root)
    assert scored["origin_date"].max() == later.dates[-1]
    prophet = scored[scored["model"] == "prophet"]
    assert set(prophet["server_id"]) == {"srv-0", "srv-2"} and (prophet["horizon_days"].min() == 1)
    assert np.isfinite(prophet["yhat_pct"]).all()
    # the reused backtest is returned as stored, or not at all when the table holds it
    held = backtest_predictions(later, decisions("reuse"), config, root, held_runs={RUN})
    assert held.num_rows == 0
    again = backtest_predictions(later, decisions("reuse"), config, root)
    assert again.num_rows > 0 and set(again.column("run_id").to_pylist()) == {RUN}


def test_a_partial_last_day_does_not_move_the_origin():
    panel = make_panel()
    full = panel.origin_index()
    assert full == len(panel.dates) - 1
    # a new day on which only one of six series has reported yet (a partial day)
    dates = panel.dates.append(pd.DatetimeIndex([panel.dates[-1] + pd.Timedelta(days=1)]))
    row = np.full((1, panel.n_series), np.nan)
    row[0, 0] = 42.0
    partial = type(panel)(
        dates,
        panel.keys,
        np.vstack([panel.y, row]),
        {k: np.vstack([v, np.full((1, panel.n_series), np.nan)]) for k, v in panel.features.items()},
        panel.calendar,
    )
    assert partial.origin_index() == full
    # once most series report, the new day is the origin
    partial.y[-1, :] = 40.0
    assert partial.origin_index() == full + 1
