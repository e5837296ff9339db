"""Direct multi-horizon tree models on the SQL features.

One design matrix row = (series, origin t, horizon h). Inputs are only what was known at t:
the SQL lag/rolling features of the origin row (made relative to the recent level), the
seasonal-naive value for the target day, the horizon, and the calendar of the target day
(known in advance). The target is y[t+h] - level[t], so one model serves every level and
extrapolates growth through the trend features instead of memorising levels.

Fit once on targets up to `train_end`; predict at any origin >= train_end with the features
observed at that origin (no refit, no peeking).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from capacity_forecaster.engines import engine_for
from capacity_forecaster.forecasting.panel import CALENDAR_FEATURES, Panel, forward_fill
from capacity_forecaster.forecasting.settings import ForecastSettings

YEAR_DAYS = 364  # 52 weeks: same weekday last year


def _level(panel: Panel, filled: np.ndarray, origin: int) -> np.ndarray:
    """Recent level at the origin: 7-day rolling mean, falling back to the last value."""
    rolling = panel.features.get("p95_rolling_mean_7_pct")
    level = rolling[origin] if rolling is not None else np.full(panel.n_series, np.nan)
    return np.where(np.isnan(level), filled[origin], level)


@dataclass
class DesignBuilder:
    panel: Panel
    feature_names: list[str] = field(init=False)

    codes: dict[str, dict[str, int]] | None = None  # category -> code; fixed at fit time

    def __post_init__(self) -> None:
        self._filled = forward_fill(self.panel.y)
        self._origin_features = sorted(self.panel.features)
        if self.codes is None:
            self.codes = {
                c: {v: i for i, v in enumerate(sorted(self.panel.keys[c].unique()))}
                for c in ("metric", "archetype")
            }
        # Categories unseen at fit time become NaN: HistGradientBoosting's "missing" branch.
        self._metric = self.panel.keys["metric"].map(self.codes["metric"]).to_numpy(dtype=float)
        self._archetype = self.panel.keys["archetype"].map(self.codes["archetype"]).to_numpy(dtype=float)
        cal = self.panel.calendar
        self._cal = {c: cal[c].astype(float).to_numpy() for c in CALENDAR_FEATURES if c in cal}
        self._cal_index = {d: i for i, d in enumerate(cal.index)}
        self.feature_names = [
            *[f"origin_{f}_rel" for f in self._origin_features],
            "last_value_rel",
            "seasonal_naive_rel",
            "last_year_rel",
            "level",
            "horizon_days",
            *[f"target_{c}" for c in self._cal],
            "metric_code",
            "archetype_code",
        ]
        self.categorical = [len(self.feature_names) - 2, len(self.feature_names) - 1]

    def with_codes(self, codes: dict[str, dict[str, int]]) -> DesignBuilder:
        return self if codes == self.codes else DesignBuilder(self.panel, codes)

    def rows(self, origin: int, horizons: np.ndarray, series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Features (n, F) and level (n,) for paired arrays of horizons and series indexes."""
        filled = self._filled[: origin + 1]  # nothing after the origin is ever read
        level = _level(self.panel, filled, origin)[series]
        cols = [
            self.panel.features[f][origin, series] - (0 if "std" in f else level)
            for f in self._origin_features
        ]
        cols.append(filled[origin, series] - level)
        source = np.clip(origin + horizons - 7 * np.ceil(horizons / 7).astype(int), 0, origin)
        cols.append(filled[source, series] - level)
        # Last year around the target day, relative to last year's level: the yearly shape
        # and last quarter-end's spike, both known at the origin.
        year_ago = origin - YEAR_DAYS
        if year_ago >= 7:
            base = _level(self.panel, filled, year_ago)[series]
            cols.append(self.panel.y[np.clip(year_ago + horizons, 0, origin), series] - base)
        else:
            cols.append(np.full(series.size, np.nan))
        cols += [level, horizons.astype(float)]
        target_dates = self.panel.dates[origin] + horizons * np.timedelta64(1, "D")
        cal_rows = np.array([self._cal_index[d] for d in target_dates])
        cols += [values[cal_rows] for values in self._cal.values()]
        cols += [self._metric[series], self._archetype[series]]
        return np.column_stack(cols), level

    def training_set(
        self,
        train_end: int,
        horizon: int,
        stride: int,
        per_origin: int,
        rng: np.random.Generator,
        series: np.ndarray | None = None,
        first_origin: int = 14,  # two weeks of history: trees can train on six-week fleets
        max_rows: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sampled (origin, horizon) pairs whose target day is <= train_end.

        With `max_rows`, each origin draws only a random share of the series, so the matrix
        never grows past about max_rows however large the fleet (memory stays bounded)."""
        series = np.arange(self.panel.n_series) if series is None else series
        origins = range(first_origin, train_end, stride)
        share = 1.0
        if max_rows and len(origins):
            share = min(1.0, max_rows / (series.size * len(origins) * per_origin))
        xs, ys = [], []
        for origin in origins:
            room = min(horizon, train_end - origin)
            if room < 1:
                break
            chosen = (
                series
                if share >= 1.0
                else rng.choice(series, max(1, round(series.size * share)), replace=False)
            )
            h = rng.integers(1, room + 1, size=(chosen.size, per_origin)).ravel()
            s = np.repeat(chosen, per_origin)
            x, level = self.rows(origin, h, s)
            y = self.panel.y[origin + h, s] - level
            keep = np.isfinite(y) & np.isfinite(level)
            xs.append(x[keep])
            ys.append(y[keep])
        if not xs:
            return np.empty((0, len(self.feature_names))), np.empty(0)
        x = np.concatenate(xs)
        # A feature missing everywhere in training (e.g. last year's value on < 1 year of
        # history) carries nothing; make it constant, which trees never split on.
        x[:, np.isnan(x).all(axis=0)] = 0.0
        return x, np.concatenate(ys)

    def feature_days(self, origin: int) -> list[int]:
        """The only days of panel.features that rows() reads at this origin (the origin and a
        year before it), so a distributed engine ships just those."""
        year_ago = origin - YEAR_DAYS
        return [origin, year_ago] if year_ago >= 7 else [origin]

    def predict(self, model: Any, origin: int, horizon: int, series: np.ndarray) -> np.ndarray:
        h = np.tile(np.arange(1, horizon + 1), series.size)
        s = np.repeat(series, horizon)
        x, level = self.rows(origin, h, s)
        return (model.predict(x) + level).reshape(series.size, horizon)


def _impute(x: np.ndarray) -> np.ndarray:
    """Relative features: missing means 'no deviation from the level'."""
    return np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)


class Imputed:
    """Wraps estimators without native NaN support (the seed's RF / GB)."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(self, x: np.ndarray, y: np.ndarray) -> Imputed:
        self.estimator.fit(_impute(x), y)
        # A forest predicting on several threads sums its trees in whatever order they finish
        # (last-bit differences between calls); on one it reproduces its forecasts exactly.
        if "n_jobs" in self.estimator.get_params():
            self.estimator.set_params(n_jobs=1)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.estimator.predict(_impute(x))


def make_estimator(
    name: str, params: dict[str, Any], n_jobs: int, seed: int, categorical: list[int] | None = None
):
    from sklearn.ensemble import (
        GradientBoostingRegressor,
        HistGradientBoostingRegressor,
        RandomForestRegressor,
    )

    if name == "global_hgb":
        # Archetype and metric as native categoricals: as plain numbers the global model
        # cannot separate archetypes (holdout MASE 1.01 vs 0.89, see bench/results).
        return HistGradientBoostingRegressor(random_state=seed, categorical_features=categorical, **params)
    if name == "random_forest":
        return Imputed(RandomForestRegressor(random_state=seed, n_jobs=n_jobs, **params))
    if name == "gradient_boosting":
        return Imputed(GradientBoostingRegressor(random_state=seed, **params))
    raise ValueError(f"not a tabular model: {name}")


@dataclass
class FittedTabular:
    """A tabular model family: one global estimator, or one per archetype."""

    name: str
    estimators: dict[str, Any]  # archetype -> estimator ("*" = global)
    train_end: int
    rows_used: int
    fit_seconds: float
    params: dict[str, Any]
    codes: dict[str, dict[str, int]]

    def predict(self, builder: DesignBuilder, origin: int, horizon: int, engine: Any = None) -> np.ndarray:
        if engine is not None and engine.distributed:  # the same, in batches of series there
            from capacity_forecaster.engines.tasks import predict_on

            return predict_on(engine, self, builder, origin, horizon)
        builder = builder.with_codes(self.codes)
        out = np.full((builder.panel.n_series, horizon), np.nan)
        archetypes = builder.panel.keys["archetype"].to_numpy()
        for scope, estimator in self.estimators.items():
            series = (
                np.arange(builder.panel.n_series) if scope == "*" else np.flatnonzero(archetypes == scope)
            )
            if series.size:
                out[series] = builder.predict(estimator, origin, horizon, series)
        return out


def fit_per_archetype(
    name: str,
    params: dict[str, Any],
    training: dict[str, tuple[np.ndarray, np.ndarray]],
    settings: ForecastSettings,
) -> dict[str, Any]:
    """One estimator per archetype; the rows are drawn beforehand (one seeded stream, in
    archetype order), so where the fits run cannot change them."""
    engine = engine_for(settings)
    if engine.distributed:
        from capacity_forecaster.engines.tasks import fit_per_archetype as fit_there

        return fit_there(engine, name, params, training, settings.n_jobs, settings.seed)
    return {
        archetype: make_estimator(name, params, settings.n_jobs, settings.seed).fit(x, y)
        for archetype, (x, y) in training.items()
    }


def fit_tabular(
    name: str, builder: DesignBuilder, train_end: int, settings: ForecastSettings, rng: np.random.Generator
) -> FittedTabular:
    params = settings.params(name)
    started = time.perf_counter()
    sampling = (settings.horizon_days, settings.train_origin_stride_days, settings.horizons_per_origin, rng)
    estimators: dict[str, Any] = {}
    rows = 0
    if name == "global_hgb":
        x, y = builder.training_set(train_end, *sampling, max_rows=settings.max_train_rows_global)
        if y.size:
            estimators["*"] = make_estimator(
                name, params, settings.n_jobs, settings.seed, builder.categorical
            ).fit(x, y)
        rows = y.size
    else:
        archetypes = builder.panel.keys["archetype"].to_numpy()
        training = {}
        for archetype in sorted(set(archetypes)):
            x, y = builder.training_set(train_end, *sampling, series=np.flatnonzero(archetypes == archetype))
            if y.size > settings.max_train_rows_per_archetype:  # the seed's params are slow
                pick = rng.choice(y.size, settings.max_train_rows_per_archetype, replace=False)
                x, y = x[pick], y[pick]
            if y.size:
                training[archetype] = (x, y)
            rows += y.size
        estimators = fit_per_archetype(name, params, training, settings)
    codes = builder.codes
    assert codes is not None  # a DesignBuilder fixes its category codes when it is made
    return FittedTabular(name, estimators, train_end, rows, time.perf_counter() - started, params, codes)
