"""The decision step of every build (dbt models int_forecast_runs_decided and
int_risk_runs_decided): retrain or reuse, why, and which run the build uses. Their rows are the
state the next build decides from (append-only logs that survive `--full-refresh`); each
decision is printed too.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from capacity_forecaster.forecasting.panel import Panel
from capacity_forecaster.frames import TableLike, to_pandas
from capacity_forecaster.progress import log
from capacity_forecaster.runs.artifacts import ArtifactStore, new_run_id
from capacity_forecaster.runs.cadence import (
    CadenceSettings,
    RunRecord,
    config_digest,
    daily_fingerprint,
    decide,
)

# Settings that change where and how fast a model trains, not what it learns.
HOW_NOT_WHAT = ("n_jobs", "engine", "spark_remote", "spark_master")

SCHEMA = pa.schema(
    [
        ("decision_id", pa.string()),
        ("build_id", pa.string()),
        ("component", pa.string()),
        ("decision", pa.string()),
        ("reason", pa.string()),
        ("run_id", pa.string()),
        ("previous_run_id", pa.string()),
        ("config_sha256", pa.string()),
        ("config_json", pa.string()),
        ("data_fingerprint_sha256", pa.string()),
        ("data_fingerprint_json", pa.string()),
        ("series_count", pa.int64()),
        ("train_start_date", pa.date32()),
        ("origin_date", pa.date32()),
        ("pruned_run_ids", pa.string()),
        ("decided_at", pa.timestamp("us")),
    ]
)


def training_config(
    component: str,
    panel: Panel,
    settings: dict[str, Any],
    cadence: dict[str, Any],
    thresholds: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """What shapes a component's training, so that a change of any of it retrains: its
    settings (n_jobs and the engine only change how fast and where, so they are left out:
    the engines give the same forecasts), the feature columns (vars
    feature_lags, rolling_windows), and for the forecasts the champion rules, for the risk
    model the resolved thresholds its backtest judges. What changes the data itself (metrics,
    coverage rule, calendar vars) shows in the data fingerprint instead."""
    config: dict[str, Any] = {component: {k: v for k, v in settings.items() if k not in HOW_NOT_WHAT}}
    if component == "forecast":
        config["features"] = sorted(panel.features)
        config["selection"] = cadence["selection_inputs"]
    if thresholds is not None:
        columns = ["archetype", "metric", *sorted(c for c in thresholds.columns if c.endswith("_pct"))]
        frame = thresholds[columns].sort_values(["archetype", "metric"])
        config["thresholds"] = [
            {k: (float(v) if k.endswith("_pct") else str(v)) for k, v in row.items()}
            for row in frame.to_dict("records")
        ]
    return config


def _run_of_record(history: pd.DataFrame) -> RunRecord | None:
    if history.empty:
        return None
    runs = history[history["decision"] == "retrain"]
    if runs.empty:
        return None
    row = runs.sort_values("build_id").iloc[-1]
    return RunRecord(
        run_id=row["run_id"],
        trained_at=pd.Timestamp(row["decided_at"]).to_pydatetime(),
        origin_date=pd.Timestamp(row["origin_date"]).date(),
        config=json.loads(row["config_json"]),
        fingerprint=json.loads(row["data_fingerprint_json"]),
    )


def decide_training_run(
    component: str,
    panel: Panel,
    history: TableLike | None,
    settings_json: str,
    cadence_json: str,
    root: Path,
    thresholds: TableLike | None = None,
    now: dt.datetime | None = None,
) -> pa.Table:
    """This build's decision row for `component` ('forecast' or 'risk'); prunes the
    component's expired artifacts. `history`: the earlier rows of this log (None at first)."""
    cadence_raw = json.loads(cadence_json)
    settings = CadenceSettings.from_json(cadence_raw)
    wall = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    # "Now" for ages and pruning is var as_of_timestamp when set (replays, tests); the build
    # id is always the wall clock, so builds sort in the order they ran.
    now = now or settings.as_of or wall.replace(microsecond=0)
    history = to_pandas(history) if history is not None else pd.DataFrame()
    config = training_config(
        component,
        panel,
        json.loads(settings_json),
        cadence_raw,
        to_pandas(thresholds) if thresholds is not None else None,
    )
    config_text, config_sha = config_digest(config)
    store = ArtifactStore(root)
    origin = panel.origin_index()
    origin_date = panel.dates[origin].date()
    fingerprint = daily_fingerprint(panel, origin)
    fingerprint_text, fingerprint_sha = config_digest(fingerprint)
    previous = _run_of_record(history)
    problem = store.problem(previous.run_id, component) if previous else None
    decision = decide(component, previous, problem, config, fingerprint, origin_date, now, settings)
    run_id = new_run_id(component, now) if decision.retrain or previous is None else previous.run_id
    keep = {run_id} | ({previous.run_id} if previous else set())
    # Each component prunes its own runs; the forecast step also clears folders that are no
    # run of either (artifacts of an older layout).
    foreign = component == "forecast"
    pruned = [r for r in store.prune(now, settings.artifact_retention_days, keep, component, foreign)]
    log(f"{component} models: {decision.verb} run {run_id} - {decision.reason}")
    if pruned:
        log(
            f"{component} models: pruned the artifacts of {len(pruned)} run(s) older than "
            f"{settings.artifact_retention_days} days: {', '.join(pruned)}"
        )
    row = {
        "decision_id": f"{wall:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}",
        "build_id": f"{wall:%Y%m%dT%H%M%S%f}",
        "component": component,
        "decision": decision.verb,
        "reason": decision.reason,
        "run_id": run_id,
        "previous_run_id": decision.previous_run_id,
        "config_sha256": config_sha,
        "config_json": config_text,
        "data_fingerprint_sha256": fingerprint_sha,
        # The fingerprint is what a later build compares against: kept for runs only.
        "data_fingerprint_json": fingerprint_text if decision.retrain else None,
        "series_count": panel.n_series,
        "train_start_date": panel.dates[0].date(),
        "origin_date": origin_date,
        "pruned_run_ids": ",".join(pruned) or None,
        "decided_at": now,
    }
    return pa.Table.from_pylist([row], schema=SCHEMA)


def current_run(decisions: TableLike, component: str) -> dict[str, Any]:
    """This build's decision row (the newest in the component's log)."""
    frame = to_pandas(decisions)
    frame = frame[frame["component"] == component].sort_values("build_id")
    if frame.empty:
        raise RuntimeError(f"no training decision recorded for the {component} models")
    return frame.iloc[-1].to_dict()
