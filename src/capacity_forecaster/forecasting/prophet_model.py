"""Prophet per series (server x metric): yearly + weekly seasonality and the quarter-end
calendar flag as an extra regressor. Fitted in parallel over series with joblib; Stan and
Prophet logs are silenced. Prophet's own 80/95 % intervals are kept for comparison with the
conformal intervals every model gets."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from capacity_forecaster.progress import Progress, quiet_third_party

MIN_POINTS = 14
YEARLY_MIN_DAYS = 730  # Prophet cannot separate a yearly cycle from trend on less


def _quiet() -> None:
    import cmdstanpy

    cmdstanpy.disable_logging()
    for name in ("cmdstanpy", "prophet", "prophet.plot"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.ERROR)
        logger.propagate = False


def _fit_one(
    ds: np.ndarray, y: np.ndarray, eoq: np.ndarray, params: dict[str, Any], interval_width: float
) -> Any:
    quiet_third_party()  # before the import: prophet.plot logs an error at import without plotly
    from prophet import Prophet

    _quiet()

    keep = ~np.isnan(y)
    if keep.sum() < MIN_POINTS:
        return None
    frame = pd.DataFrame({"ds": ds[keep], "y": y[keep], "is_end_of_quarter": eoq[keep]})
    span_days = (frame.ds.iloc[-1] - frame.ds.iloc[0]).days
    model = Prophet(
        yearly_seasonality=bool(params.get("yearly_seasonality", True)) and span_days >= YEARLY_MIN_DAYS,
        weekly_seasonality=bool(params.get("weekly_seasonality", True)),
        daily_seasonality=False,
        interval_width=interval_width,
        uncertainty_samples=int(params.get("uncertainty_samples", 200)),
    )
    model.add_regressor("is_end_of_quarter")
    return model.fit(frame)


def _forecast_one(
    model: Any, future_ds: np.ndarray, future_eoq: np.ndarray, levels: tuple[float, ...]
) -> np.ndarray:
    """(1 + 2 * len(levels), H): yhat then lower/upper for each level, from one set of
    predictive samples (Prophet's own uncertainty: trend changes + observation noise)."""
    if model is None:
        return np.full((1 + 2 * len(levels), len(future_ds)), np.nan)
    future = pd.DataFrame({"ds": future_ds, "is_end_of_quarter": future_eoq})
    samples = model.uncertainty_samples
    model.uncertainty_samples = 0  # point forecast only; intervals come from the samples below
    rows = [model.predict(future)["yhat"].to_numpy()]
    model.uncertainty_samples = samples
    if samples:
        draws = model.predictive_samples(future)["yhat"]  # (H, samples)
        for level in levels:
            rows += [np.quantile(draws, (1 - level) / 2, axis=1), np.quantile(draws, (1 + level) / 2, axis=1)]
    else:
        rows += [np.full(len(future_ds), np.nan)] * (2 * len(levels))
    return np.vstack(rows)


def _fit_and_forecast(ds, y, eoq, future_ds, future_eoq, params, levels):
    model = _fit_one(ds, y, eoq, params, levels[0])
    return _forecast_one(model, future_ds, future_eoq, levels)


def prophet_forecast(
    panel,
    origin: int,
    horizon: int,
    series: np.ndarray,
    params: dict[str, Any],
    levels: tuple[float, ...],
    n_jobs: int,
    engine: Any = None,
) -> np.ndarray:
    """(len(series), 1 + 2 * len(levels), H): fit on days <= origin, forecast the next H.
    On a distributed engine (capacity_forecaster.engines) each series is a group there."""
    from joblib import Parallel, delayed

    ds = panel.dates[: origin + 1].to_numpy()
    eoq_all = panel.calendar["is_end_of_quarter"].astype(float)
    eoq = eoq_all.reindex(panel.dates[: origin + 1]).to_numpy()
    future_ds = (panel.dates[origin] + pd.to_timedelta(np.arange(1, horizon + 1), "D")).to_numpy()
    future_eoq = eoq_all.reindex(future_ds).to_numpy()
    if engine is not None and engine.distributed:
        from capacity_forecaster.engines.tasks import prophet_on

        return prophet_on(engine, panel, series, ds, eoq, future_ds, future_eoq, params, levels)
    jobs = (
        delayed(_fit_and_forecast)(ds, panel.y[: origin + 1, s], eoq, future_ds, future_eoq, params, levels)
        for s in series
    )
    progress = Progress(f"prophet fits at {panel.dates[origin]:%Y-%m-%d}", len(series), unit="series")
    results = []
    for result in Parallel(n_jobs=n_jobs, batch_size=4, return_as="generator")(jobs):
        results.append(result)
        progress(len(results))
    return np.stack(results) if results else np.empty((0, 1 + 2 * len(levels), horizon))
