"""Entry points for the forecasting dbt Python models.

A *training run* (decided by capacity_forecaster.runs.decisions) backtests every enabled
model, runs the CV, fits the models that can matter and stores all of it under
model_artifacts/<run_id>/. Builds that reuse the run skip all of that: they score the new
origin with the stored models and keep the run's backtest, intervals and champions.

Models are fitted only where they can matter: a model fitted per group (Prophet per series,
random forest / gradient boosting per archetype) is trained for the archetype x metric groups
(archetypes) where it is the champion in some horizon bucket, and the global model when it is
a champion anywhere. The backtest still judges every enabled model, which is what champions
are chosen from. The baselines need no fitting and are always scored.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from capacity_forecaster.forecasting import prophet_store
from capacity_forecaster.forecasting.backtest import (
    TrainedModels,
    run_backtest,
    run_cv,
    score,
    supported_horizon,
)
from capacity_forecaster.forecasting.intervals import apply_intervals, leave_one_origin_out, quantile_table
from capacity_forecaster.forecasting.panel import Panel
from capacity_forecaster.forecasting.settings import TABULAR_MODELS, ForecastSettings
from capacity_forecaster.forecasting.tabular import DesignBuilder, FittedTabular, fit_tabular
from capacity_forecaster.frames import TableLike, to_pandas
from capacity_forecaster.progress import log
from capacity_forecaster.runs.artifacts import REGISTRY_SCHEMA, ArtifactError, ArtifactStore
from capacity_forecaster.runs.decisions import current_run

COMPONENT = "forecast"
PROPHET_FILE = "prophet.json.gz"
# What the fitted models forecast from the training origin, in memory, before being stored:
# scoring from the stored files at that origin must reproduce it exactly (checked).
TRAINING_FORECASTS = "training_forecasts.parquet"
_BACKTEST_LINE = re.compile(r"^backtest (?P<model>\w+): \d+ origins in (?P<seconds>[\d.]+)s$")


def _timed_log(seconds: dict[str, float]) -> Callable[[str], None]:
    """The backtest's log, also keeping each model's backtest time for the registry."""

    def write(message: str) -> None:
        match = _BACKTEST_LINE.match(message)
        if match:
            seconds[match["model"]] = float(match["seconds"])
        log(message)

    return write


def _canonical(table: pa.Table) -> pa.Table:
    """Timestamps as microseconds whatever pandas' unit: the incremental table keeps one
    type from run to run."""
    fields = [
        pa.field(f.name, pa.timestamp("us")) if pa.types.is_timestamp(f.type) else f for f in table.schema
    ]
    return table.cast(pa.schema(fields))


def backtest_predictions(
    panel: Panel, decisions: TableLike, settings_json: str, root: Path, held_runs: set[str] | None = None
) -> pa.Table:
    """The run's backtest rows (model x series x origin x horizon) with leave-one-origin-out
    conformal bounds. A training run computes and stores them, with the interval quantiles
    scoring uses; a reused run's rows are loaded, or nothing is returned when the
    (incremental) table already holds them (`held_runs`)."""
    run = current_run(decisions, COMPONENT)
    store = ArtifactStore(root)
    run_id = run["run_id"]
    if run["decision"] != "retrain":
        path = store.path(run_id, "backtest", "backtest.parquet")
        if held_runs and run_id in held_runs:
            return pq.read_schema(path).empty_table()
        log(f"backtest: reusing run {run_id}'s ({path.stat().st_size / 1e6:,.1f} MB)")
        return pq.read_table(path)
    settings = ForecastSettings.from_json(settings_json)
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    predictions = run_backtest(panel, settings, _timed_log(seconds))
    if not predictions.empty:
        predictions = leave_one_origin_out(predictions, settings.interval_levels)
    table = _canonical(pa.Table.from_pandas(predictions.assign(run_id=run_id), preserve_index=False))
    quantiles = (
        quantile_table(predictions, settings.interval_levels) if not predictions.empty else pd.DataFrame()
    )
    writer = store.step(run_id, "backtest")
    writer.parquet("backtest.parquet", table)
    writer.parquet("intervals.parquet", pa.Table.from_pandas(quantiles, preserve_index=False))
    writer.finish({"seconds": round(time.perf_counter() - started, 3), "models": seconds, "rows": len(table)})
    return table


def cv_folds(
    panel: Panel, decisions: TableLike, settings_json: str, models: list[str], root: Path
) -> pd.DataFrame:
    """Expanding-window CV on the training part: computed by a training run, else reused."""
    run = current_run(decisions, COMPONENT)
    store = ArtifactStore(root)
    if run["decision"] != "retrain":
        return store.load_parquet(run["run_id"], "cv", "cv.parquet").to_pandas()
    settings = ForecastSettings.from_json(settings_json)
    started = time.perf_counter()
    folds = run_cv(panel, settings, models, log)
    writer = store.step(run["run_id"], "cv")
    writer.parquet("cv.parquet", pa.Table.from_pandas(folds, preserve_index=False))
    writer.finish({"seconds": round(time.perf_counter() - started, 3), "rows": len(folds)})
    return folds


def champion_scopes(champions: TableLike) -> dict[str, set[tuple[str, str]]]:
    """model -> the (archetype, metric) groups where it is the champion in some bucket."""
    frame = to_pandas(champions)
    out: dict[str, set[tuple[str, str]]] = {}
    for row in frame[["champion_model", "archetype", "metric"]].drop_duplicates().itertuples(index=False):
        out.setdefault(row.champion_model, set()).add((row.archetype, row.metric))
    return out


def _fit_where_champion(
    panel: Panel,
    model: str,
    groups: set[tuple[str, str]],
    origin: int,
    settings: ForecastSettings,
    rng: np.random.Generator,
) -> FittedTabular | None:
    """A tree family fitted only for the archetypes where it is a champion (all series for
    the global model), or None when it is a champion nowhere."""
    if not groups:
        return None
    if model == "global_hgb":
        return fit_tabular(model, DesignBuilder(panel), origin, settings, rng)
    archetypes = {archetype for archetype, _ in groups}
    columns = np.flatnonzero(panel.keys["archetype"].isin(archetypes).to_numpy())
    return fit_tabular(model, DesignBuilder(panel.subset(columns)), origin, settings, rng)


def train_models(
    panel: Panel, decisions: TableLike, champions: TableLike, settings_json: str, root: Path
) -> pa.Table:
    """A training run fits what can matter at the origin (the last well-covered day) and
    stores it; returns the registry rows (none when the build reuses a run)."""
    run = current_run(decisions, COMPONENT)
    if run["decision"] != "retrain":
        return REGISTRY_SCHEMA.empty_table()
    run_id = run["run_id"]
    settings = ForecastSettings.from_json(settings_json)
    store = ArtifactStore(root)
    scopes = champion_scopes(champions)
    origin = panel.origin_index()
    rng = np.random.default_rng(settings.seed)
    writer = store.step(run_id, "models")
    backtest_meta = (store.manifest(run_id, "backtest") or {}).get("meta", {})
    observed_days = int(np.isfinite(panel.y[: origin + 1]).sum())
    horizon = supported_horizon(panel, settings)
    at_training: dict[str, np.ndarray] = {}  # the fitted models' forecasts, made in memory
    rows = []
    for model in settings.enabled_models:
        started = time.perf_counter()
        groups = scopes.get(model, set())
        path, fitted_scopes, rows_used = None, "per_series", observed_days
        if model in TABULAR_MODELS:
            fitted = _fit_where_champion(panel, model, groups, origin, settings, rng)
            fitted_scopes, rows_used = "", 0
            if fitted is not None:
                path = writer.joblib(f"{model}.joblib", fitted)
                fitted_scopes, rows_used = ",".join(sorted(fitted.estimators)), fitted.rows_used
                at_training[model] = fitted.predict(DesignBuilder(panel), origin, horizon)
        elif model == "prophet":
            series = np.flatnonzero(
                pd.Series(list(zip(panel.keys["archetype"], panel.keys["metric"], strict=True)))
                .isin(groups)
                .to_numpy()
                & (panel.observed_days(origin) > 0)
            )
            fitted_scopes, rows_used = "", 0
            if series.size:
                records, at_training[model] = prophet_store.fit_models(
                    panel,
                    origin,
                    horizon,
                    series,
                    settings.params(model),
                    settings.interval_levels,
                    settings.n_jobs,
                    label=f"prophet fits for {len(groups)} champion group(s)",
                )
                path = writer.json_lines(PROPHET_FILE, records)
                fitted_scopes = ",".join(f"{a}|{m}" for a, m in sorted(groups))
                rows_used = int(np.isfinite(panel.y[: origin + 1, series]).sum())
        seconds = round(time.perf_counter() - started, 3)
        if model in TABULAR_MODELS or model == "prophet":
            what = f"fitted for {fitted_scopes}" if fitted_scopes else "not fitted (champion of no group)"
            log(f"trained {model} in {seconds}s: {what}")
        rows.append(
            {
                "run_id": run_id,
                "model": model,
                "scopes": fitted_scopes,
                "params_json": json.dumps(settings.params(model), sort_keys=True),
                "series_count": panel.n_series,
                "rows_used": int(rows_used),
                "fit_seconds": seconds,
                "backtest_seconds": backtest_meta.get("models", {}).get(model),
                "artifact_path": str(path) if path else None,
                "artifact_sha256": writer.files[path.name]["sha256"] if path else None,
                "train_start_date": panel.dates[0].date(),
                "train_end_date": panel.dates[origin].date(),
                "trained_at": pd.Timestamp(run["decided_at"]).to_pydatetime(),
            }
        )
    writer.parquet(TRAINING_FORECASTS, _long_forecasts(panel, at_training))
    writer.finish(
        {"seconds": round(sum(r["fit_seconds"] for r in rows), 3), "origin": str(panel.dates[origin])}
    )
    return pa.Table.from_pylist(rows, schema=REGISTRY_SCHEMA)


def _long_forecasts(panel: Panel, forecasts: dict[str, np.ndarray]) -> pa.Table:
    """model, server_id, metric, horizon_days, yhat_pct (clipped to 0-100 like every forecast)."""
    parts = []
    for model, yhat in forecasts.items():
        series, step = np.nonzero(np.isfinite(yhat))
        parts.append(
            pd.DataFrame(
                {
                    "model": model,
                    "server_id": panel.keys["server_id"].to_numpy()[series],
                    "metric": panel.keys["metric"].to_numpy()[series],
                    "horizon_days": step + 1,
                    "yhat_pct": np.clip(yhat[series, step], 0.0, 100.0),
                }
            )
        )
    columns = ["model", "server_id", "metric", "horizon_days", "yhat_pct"]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    return pa.Table.from_pandas(
        frame[columns].astype({"horizon_days": "int64", "yhat_pct": "float64"}), preserve_index=False
    )


def _check_reproduced(forecasts: pd.DataFrame, expected: pd.DataFrame, run_id: str) -> None:
    """At the training origin, the stored models must give the forecasts the fitted ones did."""
    keys = ["model", "server_id", "metric", "horizon_days"]
    merged = expected.merge(forecasts[[*keys, "yhat_pct"]], on=keys, how="left", suffixes=("", "_scored"))
    differ = (merged["yhat_pct"] != merged["yhat_pct_scored"]).to_numpy()  # exact; a missing one differs
    if differ.any():
        first = merged[differ].iloc[0]
        raise ArtifactError(
            f"the stored models of run {run_id} do not reproduce their training-time forecasts "
            f"({int(differ.sum())} of {len(merged)} differ, e.g. {first['model']} {first['server_id']} "
            f"{first['metric']} h={first['horizon_days']}: {first['yhat_pct']} vs {first['yhat_pct_scored']})"
        )
    log(f"run {run_id}: stored models reproduce all {len(merged):,} training-time forecasts exactly")


def _scoring_settings(settings: ForecastSettings, trained: set[str]) -> ForecastSettings:
    """The settings with fitted models that the run did not fit switched off."""
    fitted = {*TABULAR_MODELS, "prophet"}
    models = {
        name: {**values, "enabled": bool(values.get("enabled")) and (name not in fitted or name in trained)}
        for name, values in settings.models.items()
    }
    return dataclasses.replace(settings, models=models)


def score_forecasts(
    panel: Panel, decisions: TableLike, registry: TableLike, settings_json: str, root: Path
) -> pd.DataFrame:
    """Forecasts 1..H days past today's origin (the last well-covered day) with the run of
    record's stored models, and conformal intervals from that run's backtest residuals."""
    run = current_run(decisions, COMPONENT)
    run_id = run["run_id"]
    settings = ForecastSettings.from_json(settings_json)
    store = ArtifactStore(root)
    rows = to_pandas(registry)
    rows = rows[rows["run_id"] == run_id]
    if rows.empty:
        raise RuntimeError(f"forecast run {run_id} registered no models; run `capfc build --retrain`")
    files = (store.manifest(run_id, "models") or {}).get("files", {})
    tabular = {
        m: store.load_joblib(run_id, "models", f"{m}.joblib")
        for m in TABULAR_MODELS
        if f"{m}.joblib" in files
    }
    origin = panel.origin_index()
    horizon = supported_horizon(panel, settings)
    yhat = np.full((panel.n_series, horizon), np.nan)
    if PROPHET_FILE in files:
        records = store.load_json_lines(run_id, "models", PROPHET_FILE)
        yhat = prophet_store.forecast(panel, origin, horizon, records, settings.n_jobs)
    native = np.full((panel.n_series, 2 * len(settings.interval_levels), horizon), np.nan)
    trained = TrainedModels(tabular, {"yhat": yhat, "native": native}, origin, {})
    present = set(tabular) | ({"prophet"} if PROPHET_FILE in files else set())
    forecasts = score(panel, trained, _scoring_settings(settings, present))
    if f"{panel.dates[origin]:%Y-%m-%d}" == str(pd.Timestamp(rows["train_end_date"].iloc[0]).date()):
        expected = store.load_parquet(run_id, "models", TRAINING_FORECASTS).to_pandas()
        _check_reproduced(forecasts, expected, run_id)
    quantiles = store.load_parquet(run_id, "backtest", "intervals.parquet").to_pandas()
    out = apply_intervals(forecasts, quantiles, settings.interval_levels)
    out["run_id"] = run_id
    out["trained_at"] = pd.Timestamp(rows["trained_at"].iloc[0])
    log(
        f"scored {len(out):,} forecasts from {panel.dates[origin]:%Y-%m-%d} (+{horizon} days) with run "
        f"{run_id} ({run['decision']}: {', '.join(sorted(present)) or 'baselines only'})"
    )
    return out
