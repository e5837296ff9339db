"""Prophet as a stored model: fitted per series at the training origin, saved with Prophet's
own JSON serializer (prophet.serialize.model_to_json), and re-forecast from any later origin
without refitting.

Only the point forecast is needed at scoring (the intervals every model gets are conformal,
from the run's backtest), so scoring skips Prophet's predictive sampling: it is the slow part
of predict, and without it a stored model gives bit-identical forecasts on every load.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from capacity_forecaster.forecasting.panel import Panel
from capacity_forecaster.forecasting.prophet_model import _fit_one
from capacity_forecaster.progress import Progress, quiet_third_party

CHUNK = 8  # series per worker task: amortises process hand-off, keeps progress lines live


def _calendar_eoq(panel: Panel) -> pd.Series:
    return panel.calendar["is_end_of_quarter"].astype(float)


def _point_forecast(model: Any, future_ds: np.ndarray, future_eoq: np.ndarray) -> np.ndarray:
    future = pd.DataFrame({"ds": future_ds, "is_end_of_quarter": future_eoq})
    model.uncertainty_samples = 0  # point forecast: deterministic, no sampling
    return model.predict(future)["yhat"].to_numpy()


def _fit_chunk(ds, ys, eoq, params, width, future_ds, future_eoq) -> list[tuple[str, np.ndarray] | None]:
    """Fitted models as JSON, each with its forecast from the training origin (in memory)."""
    quiet_third_party()
    from prophet.serialize import model_to_json

    out: list[tuple[str, np.ndarray] | None] = []
    for y in ys:
        model = _fit_one(ds, y, eoq, params, width)
        out.append(
            None if model is None else (model_to_json(model), _point_forecast(model, future_ds, future_eoq))
        )
    return out


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _future(panel: Panel, origin: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    future_ds = (panel.dates[origin] + pd.to_timedelta(np.arange(1, horizon + 1), "D")).to_numpy()
    return future_ds, _calendar_eoq(panel).reindex(future_ds).to_numpy()


def fit_models(
    panel: Panel,
    origin: int,
    horizon: int,
    series: np.ndarray,
    params: dict[str, Any],
    levels: tuple[float, ...],
    n_jobs: int,
    label: str = "prophet fits",
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Fit one Prophet per series on days <= origin. Returns the records to store
    ({server_id, metric, model_json}; series Prophet cannot fit, fewer than 14 points, are left
    out) and the fitted models' (S, H) forecasts from the origin, made in memory at training."""
    from joblib import Parallel, delayed

    ds = panel.dates[: origin + 1].to_numpy()
    eoq = _calendar_eoq(panel).reindex(panel.dates[: origin + 1]).to_numpy()
    future_ds, future_eoq = _future(panel, origin, horizon)
    groups = _chunks([int(s) for s in series], CHUNK)
    progress = Progress(label, int(series.size), unit="series")
    jobs = (
        delayed(_fit_chunk)(
            ds, [panel.y[: origin + 1, s] for s in group], eoq, params, levels[0], future_ds, future_eoq
        )
        for group in groups
    )
    fitted: list[tuple[str, np.ndarray] | None] = []
    for result in Parallel(n_jobs=n_jobs, return_as="generator")(jobs):
        fitted += result
        progress(len(fitted))
    keys = panel.keys
    yhat = np.full((panel.n_series, horizon), np.nan)
    records = []
    for s, item in zip(series, fitted, strict=True):
        if item is None:
            continue
        text, values = item
        records.append(
            {"server_id": keys.at[s, "server_id"], "metric": keys.at[s, "metric"], "model_json": text}
        )
        yhat[s] = values
    return records, yhat


def _predict_chunk(texts: list[str], future_ds: np.ndarray, future_eoq: np.ndarray) -> list[np.ndarray]:
    quiet_third_party()
    from prophet.serialize import model_from_json

    return [_point_forecast(model_from_json(text), future_ds, future_eoq) for text in texts]


def forecast(
    panel: Panel,
    origin: int,
    horizon: int,
    records: list[dict[str, Any]],
    n_jobs: int,
    label: str = "prophet forecasts",
) -> np.ndarray:
    """(S, H) point forecasts for days origin+1 .. origin+H from stored models; NaN for series
    without one (not a Prophet group, or no longer in the panel)."""
    from joblib import Parallel, delayed

    yhat = np.full((panel.n_series, horizon), np.nan)
    index = pd.MultiIndex.from_frame(panel.keys[["server_id", "metric"]])
    wanted = pd.MultiIndex.from_tuples([(r["server_id"], r["metric"]) for r in records])
    columns = index.get_indexer(wanted) if len(records) else np.empty(0, dtype=int)
    present = [(c, r["model_json"]) for c, r in zip(columns, records, strict=True) if c >= 0]
    if not present:
        return yhat
    future_ds, future_eoq = _future(panel, origin, horizon)
    groups = _chunks(present, CHUNK)
    progress = Progress(label, len(present), unit="series")
    jobs = (delayed(_predict_chunk)([t for _, t in g], future_ds, future_eoq) for g in groups)
    done = 0
    for group, result in zip(groups, Parallel(n_jobs=n_jobs, return_as="generator")(jobs), strict=True):
        for (column, _), values in zip(group, result, strict=True):
            yhat[column] = values
        done += len(group)
        progress(done)
    return yhat
