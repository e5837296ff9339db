"""Rolling-origin backtest with a validation and a later test window, time-series CV on the
training part, and the training/scoring steps used by the dbt Python models.

Protocol:
* The backtest region starts at the seed's holdout split (last `holdout_fraction` of the
  days) or, on short histories, early enough to leave room for two horizons, but never
  before MIN_TRAINING_DAYS of history.
* Its origins are split in time: the first half are validation origins, whose forecasts are
  cut off before the first test origin; the second half are test origins. Champions are
  chosen on validation errors and their accuracy is reported on test errors that played no
  part in choosing them.
* Tree models are fitted once per window on targets before its first origin and forecast from
  each of its origins with only the features observed there. Baselines and Prophet are local
  models, refitted at every origin on data up to it.
* MASE scale per series: in-sample seasonal-naive MAE on data before the region.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from capacity_forecaster.engines import engine_for
from capacity_forecaster.forecasting import baselines
from capacity_forecaster.forecasting.intervals import level_tag
from capacity_forecaster.forecasting.panel import Panel, seasonal_naive_scale
from capacity_forecaster.forecasting.prophet_model import prophet_forecast
from capacity_forecaster.forecasting.settings import TABULAR_MODELS, ForecastSettings
from capacity_forecaster.forecasting.tabular import DesignBuilder, FittedTabular, fit_tabular

Log = Callable[[str], None]
CV_COLUMNS = {
    "fold": "int64",
    "model": "str",
    "train_end_date": "datetime64[ns]",
    "horizon_days": "int64",
    "n_forecasts": "int64",
    "mae": "float64",
    "mase": "float64",
    "fit_seconds": "float64",
}
MIN_TRAINING_DAYS = 28  # history every backtest origin has, at least (four weekly cycles)
SPLITS = ("validation", "test")


def supported_horizon(panel: Panel, settings: ForecastSettings) -> int:
    """Forecast no further ahead than half the history (weeks of data -> days of forecast)."""
    return max(1, min(settings.horizon_days, len(panel.dates) // 2))


@dataclass(frozen=True)
class Plan:
    start: int  # first backtest origin; MASE scales use the days before it
    validation_origins: tuple[int, ...]
    test_origins: tuple[int, ...]
    horizon: int

    @property
    def test_start(self) -> int:
        return self.test_origins[0] if self.test_origins else self.start

    @property
    def origins(self) -> tuple[int, ...]:
        return self.validation_origins + self.test_origins

    def split_of(self, origin: int) -> str:
        return "validation" if origin in self.validation_origins else "test"

    def last_target(self, origin: int, days: int) -> int:
        """Validation forecasts stop before the test window; test ones at the data's end."""
        return self.test_start - 1 if origin in self.validation_origins else days - 1


def _spread(first: int, last: int, count: int) -> tuple[int, ...]:
    if last < first or count < 1:
        return ()
    return tuple(int(o) for o in np.unique(np.linspace(first, last, count).round().astype(int)))


def _window_origins(first: int, end: int, horizon: int, count: int) -> tuple[int, ...]:
    """Origins from `first` whose targets stay before day `end`: full horizons where the window
    is long enough, otherwise at least a week of targets each."""
    last_full = end - 1 - horizon
    last = last_full if last_full >= first else max(first, end - 8)
    return _spread(first, min(last, end - 2), count)


def plan_backtest(panel: Panel, settings: ForecastSettings) -> Plan:
    days = len(panel.dates)
    horizon = supported_horizon(panel, settings)
    split = int(days * (1 - settings.holdout_fraction))
    start = max(MIN_TRAINING_DAYS, min(split, days - 1 - 2 * horizon))
    if days - 2 < start:
        return Plan(start, (), (), horizon)
    test_start = start + (days - 1 - start) // 2
    n_validation = max(1, settings.backtest_origins // 2)
    n_test = max(1, settings.backtest_origins - n_validation)
    validation = _window_origins(start, test_start, horizon, n_validation)
    test = _window_origins(test_start, days, horizon, n_test)
    return Plan(start, validation, test, horizon)


def prophet_sample(panel: Panel, per_archetype: int, seed: int) -> np.ndarray:
    """Series of `per_archetype` servers per archetype (all their metrics)."""
    rng = np.random.default_rng(seed)
    keys = panel.keys
    chosen = []
    for _, group in keys.groupby("archetype"):
        servers = group["server_id"].unique()
        pick = rng.choice(servers, min(per_archetype, servers.size), replace=False)
        chosen.append(group.index[group["server_id"].isin(pick)].to_numpy())
    return np.sort(np.concatenate(chosen)) if chosen else np.empty(0, dtype=int)


def local_forecast(
    model: str,
    panel: Panel,
    origin: int,
    horizon: int,
    settings: ForecastSettings,
    series: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Point forecast (S, H) and, for Prophet, its native bounds (S, 2L, H)."""
    engine = engine_for(settings)
    if model == "prophet":
        cols = np.arange(panel.n_series) if series is None else series
        out = prophet_forecast(
            panel,
            origin,
            horizon,
            cols,
            settings.params(model),
            settings.interval_levels,
            settings.n_jobs,
            engine,
        )
        yhat = np.full((panel.n_series, horizon), np.nan)
        native = np.full((panel.n_series, 2 * len(settings.interval_levels), horizon), np.nan)
        yhat[cols], native[cols] = out[:, 0], out[:, 1:]
        return yhat, native
    if engine.distributed:
        from capacity_forecaster.engines.tasks import baselines_on

        return baselines_on(engine, model, panel, origin, horizon, settings), None
    return baseline_forecast(model, panel, origin, horizon, settings), None


def baseline_forecast(
    model: str, panel: Panel, origin: int, horizon: int, settings: ForecastSettings
) -> np.ndarray:
    """(S, H) from a baseline; every series on its own except archetype_pooled, which pools
    within archetype x metric."""
    if model == "seasonal_naive":
        return baselines.seasonal_naive(panel, origin, horizon)
    if model == "last_value":
        return baselines.last_value(panel, origin, horizon)
    if model == "moving_average":
        return baselines.moving_average(panel, origin, horizon, settings.params(model)["window_days"])
    if model == "archetype_pooled":
        return baselines.archetype_pooled(panel, origin, horizon, origin, settings.min_history_days)
    raise ValueError(f"unknown local model {model}")


def _long(
    panel: Panel,
    model: str,
    origin: int,
    yhat: np.ndarray,
    native: np.ndarray | None,
    levels: tuple[float, ...],
    with_actuals: bool,
    series: np.ndarray | None = None,
) -> pd.DataFrame:
    horizon = yhat.shape[1]
    cols = np.arange(panel.n_series) if series is None else series
    h = np.tile(np.arange(1, horizon + 1), cols.size)
    s = np.repeat(cols, horizon)
    frame = pd.DataFrame(
        {
            "model": model,
            "series": s,
            "origin_date": panel.dates[origin],
            "forecast_date": panel.dates[origin] + pd.to_timedelta(h, "D"),
            "horizon_days": h,
            # Daily P95 is a percentage: a forecast beyond 0-100 (trees extrapolating growth) is
            # physically impossible, so it is clipped like the interval bounds.
            "yhat_pct": np.clip(yhat[cols].ravel(), 0.0, 100.0),
        }
    )
    if with_actuals:
        frame["actual_pct"] = panel.y[origin + h, s]
    if native is not None:
        for i, level in enumerate(levels):
            frame[f"native_lower_{level_tag(level)}_pct"] = native[cols, 2 * i].ravel()
            frame[f"native_upper_{level_tag(level)}_pct"] = native[cols, 2 * i + 1].ravel()
    return frame[np.isfinite(frame["yhat_pct"])]


def _decorate(
    frame: pd.DataFrame,
    panel: Panel,
    scale: np.ndarray,
    origin_observed: dict[int, np.ndarray],
    min_history: int,
) -> pd.DataFrame:
    keys = panel.keys
    frame["server_id"] = keys["server_id"].to_numpy()[frame["series"]]
    frame["metric"] = keys["metric"].to_numpy()[frame["series"]]
    frame["archetype"] = keys["archetype"].to_numpy()[frame["series"]]
    frame["scale"] = scale[frame["series"]]
    eoq = panel.calendar["is_end_of_quarter"].astype(bool)
    frame["is_end_of_quarter"] = eoq.reindex(frame["forecast_date"]).to_numpy()
    history = np.zeros(len(frame))
    series = frame["series"].to_numpy()
    for origin_date, rows in frame.groupby("origin_date").indices.items():
        history[rows] = origin_observed[panel.date_index(origin_date)][series[rows]]
    frame["history_days"] = history.astype(int)
    frame["is_cold_start"] = frame["history_days"] < min_history
    return frame.drop(columns=["series"])


def _origin_horizon(plan: Plan, origin: int, days: int) -> int:
    return min(plan.horizon, plan.last_target(origin, days) - origin)


def run_backtest(panel: Panel, settings: ForecastSettings, log: Log = print) -> pd.DataFrame:
    plan = plan_backtest(panel, settings)
    if not plan.origins:
        log(
            f"backtest skipped: {len(panel.dates)} days of history leave no origin after "
            f"{MIN_TRAINING_DAYS} days of training; accuracy marts stay empty"
        )
        return pd.DataFrame()
    days = len(panel.dates)
    scale = seasonal_naive_scale(panel.y, upto=plan.start - 1)
    rng = np.random.default_rng(settings.seed)
    builder = DesignBuilder(panel)
    frames = []
    observed = {o: panel.observed_days(o) for o in plan.origins}
    splits = {"validation": plan.validation_origins, "test": plan.test_origins}
    named = {split: [str(panel.dates[o].date()) for o in origins] for split, origins in splits.items()}
    log(
        f"backtest plan: validation origins {named['validation']}, test origins {named['test']}, "
        f"horizons up to {plan.horizon}"
    )
    for model in [*settings.enabled_models, "archetype_pooled"]:
        started = time.perf_counter()
        series = (
            prophet_sample(panel, settings.prophet_backtest_servers_per_archetype, settings.seed)
            if model == "prophet"
            else None
        )
        for origins in splits.values():
            # Tree models: one fit per window, on targets up to its first origin.
            fitted = (
                fit_tabular(model, builder, origins[0], settings, rng)
                if model in TABULAR_MODELS and origins
                else None
            )
            for origin in origins:
                horizon = _origin_horizon(plan, origin, days)
                if fitted is not None:
                    yhat, native = fitted.predict(builder, origin, horizon, engine_for(settings)), None
                else:
                    yhat, native = local_forecast(model, panel, origin, horizon, settings, series)
                frame = _long(panel, model, origin, yhat, native, settings.interval_levels, True)
                frames.append(frame.assign(split=plan.split_of(origin)))
        log(f"backtest {model}: {len(plan.origins)} origins in {time.perf_counter() - started:.1f}s")
    frame = pd.concat(frames, ignore_index=True)
    frame = frame[np.isfinite(frame["actual_pct"])].reset_index(drop=True)
    # Prophet's own bounds are compared in the accuracy mart: keep the columns when it is off.
    for level in settings.interval_levels:
        for side in ("lower", "upper"):
            frame[f"native_{side}_{level_tag(level)}_pct"] = frame.get(
                f"native_{side}_{level_tag(level)}_pct", np.nan
            )
    return _decorate(frame, panel, scale, observed, settings.min_history_days)


def run_cv(panel: Panel, settings: ForecastSettings, models: list[str], log: Log = print) -> pd.DataFrame:
    """Expanding-window time-series CV inside the training part (before the split)."""
    plan = plan_backtest(panel, settings)
    horizon = plan.horizon
    last_cut = plan.start - 1 - horizon
    first = min(max(60, plan.start // (settings.cv_folds + 1)), last_cut)
    if last_cut < 30:
        log(f"cv skipped: {plan.start} training days leave no room for {settings.cv_folds} folds")
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in CV_COLUMNS.items()})
    cuts = np.unique(np.linspace(first, last_cut, settings.cv_folds).round().astype(int))
    rng = np.random.default_rng(settings.seed)
    builder = DesignBuilder(panel)
    rows = []
    for fold, cut in enumerate(cuts, start=1):
        if cut < 30:
            continue
        scale = seasonal_naive_scale(panel.y, upto=cut)
        for model in models:
            if not (settings.enabled(model) or model == "archetype_pooled"):
                continue
            started = time.perf_counter()
            if model in TABULAR_MODELS:
                fitted = fit_tabular(model, builder, cut, settings, rng)
                yhat = fitted.predict(builder, cut, horizon, engine_for(settings))
            else:
                yhat, _ = local_forecast(model, panel, cut, horizon, settings)
            actual = panel.y[cut + 1 : cut + 1 + horizon].T
            err = np.abs(actual - yhat)
            rows.append(
                {
                    "fold": fold,
                    "model": model,
                    "train_end_date": panel.dates[cut],
                    "horizon_days": horizon,
                    "n_forecasts": int(np.isfinite(err).sum()),
                    "mae": float(np.nanmean(err)),
                    "mase": float(np.nanmean(err / scale[:, None])),
                    "fit_seconds": round(time.perf_counter() - started, 3),
                }
            )
        log(f"cv fold {fold}: train_end {panel.dates[cut].date()}")
    return pd.DataFrame(rows)


@dataclass
class TrainedModels:
    tabular: dict[str, FittedTabular]
    prophet: dict[str, np.ndarray]  # "yhat" (S, H) and "native" (S, 2L, H), fitted at the origin
    origin: int
    fit_seconds: dict[str, float]


def train_final(panel: Panel, settings: ForecastSettings, log: Log = print) -> TrainedModels:
    """Fit every enabled model on all data up to the origin (the last well-covered day)."""
    origin = panel.origin_index()
    builder = DesignBuilder(panel)
    rng = np.random.default_rng(settings.seed)
    tabular, seconds, prophet = {}, {}, {}
    for model in settings.enabled_models:
        started = time.perf_counter()
        if model in TABULAR_MODELS:
            tabular[model] = fit_tabular(model, builder, origin, settings, rng)
        elif model == "prophet":
            live = np.flatnonzero(panel.observed_days(origin) > 0)
            yhat, native = local_forecast(
                model, panel, origin, supported_horizon(panel, settings), settings, live
            )
            prophet = {"yhat": yhat, "native": native}
        seconds[model] = round(time.perf_counter() - started, 3)
        log(f"trained {model} in {seconds[model]}s")
    return TrainedModels(tabular, prophet, origin, seconds)


def score(panel: Panel, trained: TrainedModels, settings: ForecastSettings) -> pd.DataFrame:
    """Forecasts 1..H days past the last observed day from every enabled model."""
    origin, horizon = trained.origin, supported_horizon(panel, settings)
    builder = DesignBuilder(panel)
    frames = []
    for model in [*settings.enabled_models, "archetype_pooled"]:
        native = None
        if model in trained.tabular:
            yhat = trained.tabular[model].predict(builder, origin, horizon, engine_for(settings))
        elif model == "prophet":
            yhat, native = trained.prophet["yhat"], trained.prophet["native"]
        else:
            yhat, _ = local_forecast(model, panel, origin, horizon, settings)
        frames.append(_long(panel, model, origin, yhat, native, settings.interval_levels, False))
    frame = pd.concat(frames, ignore_index=True)
    scale = seasonal_naive_scale(panel.y)
    return _decorate(frame, panel, scale, {origin: panel.observed_days(origin)}, settings.min_history_days)
