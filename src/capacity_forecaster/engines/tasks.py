"""The forecasting fan-out on a distributed engine: wire format and group functions.

Every group function is a module-level function of (pandas frame, plain settings) that calls
the same package function the local path calls, on the group's own slice of the panel:

* baselines: batches of series (archetypes for `archetype_pooled`, which pools within one),
  `backtest.baseline_forecast`;
* Prophet: one series per group, `prophet_model._fit_and_forecast`;
* random_forest / gradient_boosting fits: one archetype's training rows per group,
  `tabular.make_estimator(...).fit`;
* tree scoring (global_hgb too): batches of series, `FittedTabular.predict`.

Wire format: one row per series with its keys and daily values up to the origin as an array
(and the SQL features on only the days the tree models read). Results come back one row per
series with its forecast array, and are scattered into (series x horizon) matrices, so row
order never matters. Training rows travel as float64 bytes with their draw order, so a fit
sees exactly the rows (and row order) the local fit sees.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from capacity_forecaster.engines import Engine
from capacity_forecaster.forecasting.panel import Panel

KEY_COLUMNS = ["server_id", "metric", "archetype"]
SERIES_OUT = pa.schema([("series", pa.int64()), ("values", pa.list_(pa.float64()))])
FIT_OUT = pa.schema([("archetype", pa.string()), ("estimator", pa.binary())])
PARTITIONS = 4  # series batches per core, so one slow batch does not idle the other cores


@dataclass(frozen=True)
class PanelContext:
    """What every group shares (small, travels with the function): the days and calendar, and
    which feature days the rows carry."""

    dates: pd.DatetimeIndex
    calendar: pd.DataFrame
    features: tuple[str, ...] = ()
    feature_days: tuple[int, ...] = ()


def bind(func: Callable[..., pd.DataFrame], **kwargs: Any) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """func with its keyword arguments fixed, as a plain one-argument function: Spark reads the
    UDF kind from the arity and annotations, which it cannot resolve through functools.partial
    or a callable object."""

    def call(frame):  # unannotated on purpose: see the docstring
        return func(frame, **kwargs)

    return call


def series_frame(
    panel: Panel,
    series: np.ndarray,
    upto: int,
    batches: int = 1,
    features: Sequence[str] = (),
    feature_days: Sequence[int] = (),
) -> pd.DataFrame:
    """One row per series: index, keys, batch, daily values up to day `upto`, and each feature
    on `feature_days`."""
    frame = panel.keys.iloc[series][KEY_COLUMNS].reset_index(drop=True)
    frame.insert(0, "series", series.astype(np.int64))
    frame["batch"] = np.arange(series.size) % max(1, batches)
    frame["y"] = list(np.ascontiguousarray(panel.y[: upto + 1, series].T))
    days = list(feature_days)
    for name in features:
        frame[f"f_{name}"] = list(np.ascontiguousarray(panel.features[name][days][:, series].T))
    return frame


def sub_panel(frame: pd.DataFrame, context: PanelContext) -> tuple[Panel, np.ndarray]:
    """The Panel of a group's series (ordered by series index) and those indexes; its first
    len(indexes) columns are those series.

    A lone series gets an empty second column: numpy sums a single column pairwise but the
    columns of a wider matrix one day at a time, and the two differ in the last bits (a
    28-day mean by 2e-14), while every wider slice sums exactly like the full panel."""
    frame = frame.sort_values("series")
    pad = 1 if len(frame) == 1 else 0
    y = np.stack([*frame["y"], *[np.full(len(frame["y"].iloc[0]), np.nan)] * pad], axis=1)
    features = {}
    for name in context.features:
        matrix = np.full(y.shape, np.nan)
        matrix[list(context.feature_days), : len(frame)] = np.stack(list(frame[f"f_{name}"]), axis=1)
        features[name] = matrix
    keys = pd.concat(
        [frame[KEY_COLUMNS], pd.DataFrame([dict.fromkeys(KEY_COLUMNS, "")] * pad)], ignore_index=True
    )
    panel = Panel(context.dates[: y.shape[0]], keys, y, features, context.calendar)
    return panel, frame["series"].to_numpy(dtype=np.int64)


def _rows(series: np.ndarray, values: np.ndarray) -> pd.DataFrame:
    """(s, ...) per-series results as wire rows."""
    flat = values.reshape(series.size, -1)
    return pd.DataFrame({"series": series, "values": list(flat)})


def _scatter(result: pd.DataFrame, n_series: int, shape: tuple[int, ...]) -> np.ndarray:
    out = np.full((n_series, *shape), np.nan)
    if len(result):
        out[result["series"].to_numpy()] = np.stack(list(result["values"])).reshape(len(result), *shape)
    return out


def _context(panel: Panel, features: Sequence[str] = (), feature_days: Sequence[int] = ()) -> PanelContext:
    return PanelContext(panel.dates, panel.calendar, tuple(features), tuple(feature_days))


# --- baselines ------------------------------------------------------------------------------


def baseline_group(
    frame: pd.DataFrame, context: PanelContext, model: str, origin: int, horizon: int, settings: Any
) -> pd.DataFrame:
    from capacity_forecaster.forecasting.backtest import baseline_forecast

    panel, series = sub_panel(frame, context)
    return _rows(series, baseline_forecast(model, panel, origin, horizon, settings)[: series.size])


def baselines_on(
    engine: Engine, model: str, panel: Panel, origin: int, horizon: int, settings: Any
) -> np.ndarray:
    """(S, H) baseline forecast, computed per batch of series (per archetype when pooled)."""
    from capacity_forecaster.forecasting.backtest import baseline_forecast

    frame = series_frame(panel, np.arange(panel.n_series), origin, PARTITIONS * engine.parallelism)
    func = bind(
        baseline_group,
        context=_context(panel),
        model=model,
        origin=origin,
        horizon=horizon,
        settings=settings,
    )
    keys = ["archetype"] if model == "archetype_pooled" else ["batch"]
    out = _scatter(engine.map_groups(frame, keys, func, SERIES_OUT), panel.n_series, (horizon,))
    # Same memory layout as the local function's result (seasonal_naive returns a transpose):
    # numpy sums a whole array in memory order, so a mean error over it (CV) would otherwise
    # differ in the last bit.
    probe = baseline_forecast(model, panel.subset(np.arange(min(2, panel.n_series))), origin, 2, settings)
    return np.asfortranarray(out) if probe.flags.f_contiguous and not probe.flags.c_contiguous else out


# --- Prophet --------------------------------------------------------------------------------


def prophet_group(
    frame: pd.DataFrame,
    ds: np.ndarray,
    eoq: np.ndarray,
    future_ds: np.ndarray,
    future_eoq: np.ndarray,
    params: dict[str, Any],
    levels: tuple[float, ...],
) -> pd.DataFrame:
    from capacity_forecaster.forecasting.prophet_model import _fit_and_forecast

    frame = frame.sort_values("series")
    out = [
        _fit_and_forecast(ds, np.asarray(y, dtype=np.float64), eoq, future_ds, future_eoq, params, levels)
        for y in frame["y"]
    ]
    return _rows(frame["series"].to_numpy(dtype=np.int64), np.stack(out))


def prophet_on(
    engine: Engine,
    panel: Panel,
    series: np.ndarray,
    ds: np.ndarray,
    eoq: np.ndarray,
    future_ds: np.ndarray,
    future_eoq: np.ndarray,
    params: dict[str, Any],
    levels: tuple[float, ...],
) -> np.ndarray:
    """(len(series), 1 + 2L, H), like prophet_model.prophet_forecast: one group per series."""
    frame = series_frame(panel, series, len(ds) - 1)
    func = bind(
        prophet_group,
        ds=ds,
        eoq=eoq,
        future_ds=future_ds,
        future_eoq=future_eoq,
        params=params,
        levels=levels,
    )
    shape = (1 + 2 * len(levels), len(future_ds))
    result = engine.map_groups(frame, ["series"], func, SERIES_OUT)
    return _scatter(result, panel.n_series, shape)[series]


# --- tree models ----------------------------------------------------------------------------


def fit_group(frame: pd.DataFrame, name: str, params: dict[str, Any], n_jobs: int, seed: int) -> pd.DataFrame:
    from capacity_forecaster.forecasting.tabular import make_estimator

    row = frame.iloc[0]
    x = np.frombuffer(row["x"], dtype=np.float64).reshape(int(row["rows"]), int(row["cols"]))
    y = np.frombuffer(row["y"], dtype=np.float64)
    estimator = make_estimator(name, params, n_jobs, seed).fit(x, y)
    return pd.DataFrame({"archetype": [row["archetype"]], "estimator": [pickle.dumps(estimator)]})


def fit_per_archetype(
    engine: Engine,
    name: str,
    params: dict[str, Any],
    training: dict[str, tuple[np.ndarray, np.ndarray]],
    n_jobs: int,
    seed: int,
) -> dict[str, Any]:
    """One estimator per archetype, fitted in its own group on the rows drawn locally."""
    frame = pd.DataFrame(
        [
            {
                "archetype": archetype,
                "x": np.ascontiguousarray(x, dtype=np.float64).tobytes(),
                "y": np.ascontiguousarray(y, dtype=np.float64).tobytes(),
                "rows": x.shape[0],
                "cols": x.shape[1],
            }
            for archetype, (x, y) in training.items()
        ]
    )
    func = bind(fit_group, name=name, params=params, n_jobs=n_jobs, seed=seed)
    result = engine.map_groups(frame, ["archetype"], func, FIT_OUT)
    fitted = {a: pickle.loads(blob) for a, blob in zip(result["archetype"], result["estimator"], strict=True)}
    return {archetype: fitted[archetype] for archetype in training}  # the local fit order


def predict_group(
    frame: pd.DataFrame, context: PanelContext, fitted: Any, origin: int, horizon: int
) -> pd.DataFrame:
    from capacity_forecaster.forecasting.tabular import DesignBuilder

    panel, series = sub_panel(frame, context)
    yhat = fitted.predict(DesignBuilder(panel, fitted.codes), origin, horizon)
    return _rows(series, yhat[: series.size])


def predict_on(engine: Engine, fitted: Any, builder: Any, origin: int, horizon: int) -> np.ndarray:
    """(S, H) forecasts of a fitted tree model, scored in batches of series. The rows carry
    the features only on the days the design rows read at this origin."""
    panel = builder.panel
    features, days = sorted(panel.features), builder.feature_days(origin)
    frame = series_frame(
        panel, np.arange(panel.n_series), origin, PARTITIONS * engine.parallelism, features, days
    )
    func = bind(
        predict_group,
        context=_context(panel, features, days),
        fitted=fitted,
        origin=origin,
        horizon=horizon,
    )
    return _scatter(engine.map_groups(frame, ["batch"], func, SERIES_OUT), panel.n_series, (horizon,))
