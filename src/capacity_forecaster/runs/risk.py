"""The breach-probability model on the training cadence: a training run fits the classifier
at the origin and judges it (the calibration backtest), storing both; builds that reuse the
run score today's origin with the stored classifier and keep its backtest."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from capacity_forecaster.forecasting.panel import Panel
from capacity_forecaster.frames import TableLike
from capacity_forecaster.progress import log
from capacity_forecaster.risk.exceedance import train
from capacity_forecaster.risk.pipeline import backtest, inputs_from_panel, score
from capacity_forecaster.risk.settings import RiskSettings
from capacity_forecaster.runs.artifacts import REGISTRY_SCHEMA, ArtifactStore
from capacity_forecaster.runs.decisions import current_run

COMPONENT = "risk"
MODEL_NAME = "breach_classifier"
MODEL_FILE = f"{MODEL_NAME}.joblib"


def train_model(
    panel: Panel, decisions: TableLike, thresholds: TableLike, settings_json: str, root: Path
) -> pa.Table:
    """A training run fits the classifier on labels known at the origin and stores it; returns
    its registry row (none when the build reuses a run). Runs after the backtest step, whose
    time it records."""
    run = current_run(decisions, COMPONENT)
    if run["decision"] != "retrain":
        return REGISTRY_SCHEMA.empty_table()
    settings = RiskSettings.from_json(settings_json)
    inputs = inputs_from_panel(panel, thresholds)
    started = time.perf_counter()
    model = train(inputs.view, settings, inputs.origin, np.random.default_rng(settings.seed))
    seconds = round(time.perf_counter() - started, 3)
    log(
        f"risk model: {model.rows_used:,} training rows ({model.positives:,} crossings), windows "
        f"{list(model.trained_windows) or 'none'} trained, fitted in {model.fit_seconds}s ({seconds}s in all)"
    )
    if not model.trained_windows:
        log("risk model: the history is too short to label any window; probabilities are the base rate")
    store = ArtifactStore(root)
    judged = (store.manifest(run["run_id"], "backtest") or {}).get("meta", {})
    writer = store.step(run["run_id"], "model")
    path = writer.joblib(MODEL_FILE, model)
    writer.finish({"seconds": seconds, "rows": model.rows_used})
    row = {
        "run_id": run["run_id"],
        "model": MODEL_NAME,
        "scopes": "*",
        "params_json": json.dumps(settings.model_params, sort_keys=True),
        "series_count": panel.n_series,
        "rows_used": model.rows_used,
        "fit_seconds": seconds,
        "backtest_seconds": judged.get("seconds"),
        "artifact_path": str(path),
        "artifact_sha256": writer.files[MODEL_FILE]["sha256"],
        "train_start_date": panel.dates[0].date(),
        "train_end_date": panel.dates[inputs.origin].date(),
        "trained_at": pd.Timestamp(run["decided_at"]).to_pydatetime(),
    }
    return pa.Table.from_pylist([row], schema=REGISTRY_SCHEMA)


def breach_probabilities(
    panel: Panel, decisions: TableLike, thresholds: TableLike, settings_json: str, root: Path
) -> pd.DataFrame:
    """P(window max > threshold) at today's origin from the run of record's classifier."""
    run = current_run(decisions, COMPONENT)
    settings = RiskSettings.from_json(settings_json)
    model = ArtifactStore(root).load_joblib(run["run_id"], "model", MODEL_FILE)
    inputs = inputs_from_panel(panel, thresholds, codes=model.codes)
    out = score(inputs, model, settings)
    log(
        f"breach probabilities at {panel.dates[inputs.origin]:%Y-%m-%d}: {len(out):,} rows with run "
        f"{run['run_id']} ({run['decision']})"
    )
    return out


def backtest_predictions(
    panel: Panel, decisions: TableLike, thresholds: TableLike, settings_json: str, root: Path
) -> pd.DataFrame:
    """The calibration backtest: computed and stored by a training run, else the run's."""
    run = current_run(decisions, COMPONENT)
    store = ArtifactStore(root)
    if run["decision"] != "retrain":
        return store.load_parquet(run["run_id"], "backtest", "risk_backtest.parquet").to_pandas()
    settings = RiskSettings.from_json(settings_json)
    started = time.perf_counter()
    judged = backtest(inputs_from_panel(panel, thresholds), settings, log)
    writer = store.step(run["run_id"], "backtest")
    writer.parquet("risk_backtest.parquet", pa.Table.from_pandas(judged, preserve_index=False))
    writer.finish({"seconds": round(time.perf_counter() - started, 3), "rows": len(judged)})
    return judged
