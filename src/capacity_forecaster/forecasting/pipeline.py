"""Entry points for the dbt Python models: each takes Arrow tables, returns a DataFrame."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
import uuid
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from capacity_forecaster.checksums import sha256_file
from capacity_forecaster.forecasting.backtest import (
    TrainedModels,
    run_backtest,
    run_cv,
    score,
    train_final,
)
from capacity_forecaster.forecasting.intervals import apply_intervals, leave_one_origin_out, quantile_table
from capacity_forecaster.forecasting.panel import Panel, build_panel, to_pandas
from capacity_forecaster.forecasting.settings import TABULAR_MODELS, ForecastSettings

KEEP_RUNS = 3


def _log(message: str) -> None:
    print(f"[capacity_forecaster] {message}", file=sys.stderr, flush=True)


def _panel(features, servers, calendar) -> Panel:
    return build_panel(features, servers, calendar)


def backtest_predictions(features, servers, calendar, settings_json: str) -> pd.DataFrame:
    settings = ForecastSettings.from_json(settings_json)
    panel = _panel(features, servers, calendar)
    predictions = run_backtest(panel, settings, _log)
    return leave_one_origin_out(predictions, settings.interval_levels)


def cv_folds(features, servers, calendar, settings_json: str, models: list[str]) -> pd.DataFrame:
    settings = ForecastSettings.from_json(settings_json)
    return run_cv(_panel(features, servers, calendar), settings, models, _log)


def train_models(features, servers, calendar, settings_json: str, artifact_root: Path) -> pd.DataFrame:
    """Fit every enabled model on all history; persist artifacts; return the registry rows."""
    settings = ForecastSettings.from_json(settings_json)
    panel = _panel(features, servers, calendar)
    trained_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    run_id = f"{trained_at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    trained = train_final(panel, settings, _log)
    run_dir = artifact_root / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    first, last = panel.dates[0].date(), panel.dates[trained.origin].date()
    for model in settings.enabled_models:
        path = run_dir / f"{model}.joblib"
        if model in TABULAR_MODELS:
            fitted = trained.tabular[model]
            joblib.dump(fitted, path)
            scopes, rows_used = sorted(fitted.estimators), fitted.rows_used
        elif model == "prophet":
            # Prophet is fitted at the origin, one model per series: the artifact is its
            # forecasts there (yhat and native intervals), not the fitted models.
            joblib.dump(trained.prophet, path)
            scopes, rows_used = ["per_series"], int(np.isfinite(panel.y).sum())
        else:
            path, scopes, rows_used = None, ["per_series"], int(np.isfinite(panel.y).sum())
        rows.append(
            {
                "run_id": run_id,
                "model": model,
                "scopes": ",".join(scopes),
                "params_json": json.dumps(settings.params(model), sort_keys=True),
                "series_count": panel.n_series,
                "rows_used": int(rows_used),
                "fit_seconds": trained.fit_seconds.get(model, 0.0),
                "artifact_path": str(path) if path else None,
                "artifact_sha256": sha256_file(path) if path else None,
                "train_start_date": first,
                "train_end_date": last,
                "trained_at": trained_at,
            }
        )
    _prune(artifact_root)
    return pd.DataFrame(rows)


def score_forecasts(features, servers, calendar, registry, backtest, settings_json: str) -> pd.DataFrame:
    """Forecast from the last observed day with the latest registered run's artifacts and
    conformal intervals from every backtest origin's residuals."""
    settings = ForecastSettings.from_json(settings_json)
    panel = _panel(features, servers, calendar)
    reg = to_pandas(registry)
    run = reg.sort_values("trained_at").iloc[-1]["run_id"]
    reg = reg[reg["run_id"] == run].set_index("model")
    tabular, prophet = {}, {}
    for model, row in reg.iterrows():
        if row["artifact_path"] is None or pd.isna(row["artifact_path"]):
            continue
        if sha256_file(Path(row["artifact_path"])) != row["artifact_sha256"]:
            raise RuntimeError(f"artifact for {model} changed since training: {row['artifact_path']}")
        loaded = joblib.load(row["artifact_path"])
        if model == "prophet":
            prophet = loaded
        else:
            tabular[model] = loaded
    trained = TrainedModels(tabular, prophet, panel.origin_index(), {})
    forecasts = score(panel, trained, settings)
    quantiles = quantile_table(to_pandas(backtest), settings.interval_levels)
    out = apply_intervals(forecasts, quantiles, settings.interval_levels)
    out["run_id"] = run
    out["trained_at"] = reg["trained_at"].iloc[0] if len(reg) else pd.NaT
    return out


def _prune(root: Path) -> None:
    runs = sorted(p for p in root.iterdir() if p.is_dir())
    for old in runs[:-KEEP_RUNS]:
        shutil.rmtree(old, ignore_errors=True)


def artifact_root_for(session) -> Path:
    """Model artifacts live next to the DuckDB file being built."""
    path = session.sql(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchone()[0]
    return Path(path).resolve().parent / "model_artifacts"
