"""P(the largest daily P95 of the next W days exceeds x): the question a capacity flag answers.

One gradient-boosted classifier, trained on the fleet's own history: at past origins t, every
series, a spread of windows W and thresholds x, the label is "max(y[t+1 .. t+W]) > x". Its
inputs are the features of capacity_forecaster.risk.features, constrained to be monotone in
x and W, so one model answers any threshold and gives a first-passage distribution
F(k) = P(crossing within k days) for the likely crossing date.

Windows longer than the history can label (90 days on a 61-day history) are extrapolated from
the longest trained window W0 under a constant hazard, 1 - (1 - F(W0)) ** (W / W0), and
flagged as such.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from capacity_forecaster.forecasting.panel import Panel
from capacity_forecaster.risk.features import (
    CATEGORICAL,
    FEATURES,
    LOOKBACK_DAYS,
    SeriesState,
    feature_rows,
    monotone_constraints,
    series_state,
)
from capacity_forecaster.risk.settings import TRAINING_THRESHOLDS, RiskSettings

Log = Callable[[str], None]
MIN_ORIGIN_DAYS = 7  # observed days a series needs before an origin can train or score it (a week)
MIN_LABEL_SHARE = 0.5  # a training window needs half its days observed to have a maximum
MAX_ORIGINS_PER_WINDOW = 120  # origins are thinned beyond this (rows are sampled anyway)


def category_codes(panel: Panel) -> dict[str, dict[str, int]]:
    return {c: {v: i for i, v in enumerate(sorted(panel.keys[c].unique()))} for c in ("metric", "archetype")}


@dataclass
class PanelView:
    """The panel as the risk model sees it: values, calendar distances and category codes."""

    panel: Panel
    codes: dict[str, dict[str, int]]
    metric_code: np.ndarray = field(init=False)
    archetype_code: np.ndarray = field(init=False)
    observed_cumsum: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        keys = self.panel.keys
        # Categories unseen at fit time become NaN: HistGradientBoosting's "missing" branch.
        self.metric_code = keys["metric"].map(self.codes["metric"]).to_numpy(dtype=float)
        self.archetype_code = keys["archetype"].map(self.codes["archetype"]).to_numpy(dtype=float)
        self.observed_cumsum = np.cumsum(np.isfinite(self.panel.y), axis=0)

    @property
    def days(self) -> int:
        return len(self.panel.dates)

    def state(self, origin: int) -> SeriesState:
        next_day = self.panel.dates[origin] + pd.Timedelta(days=1)
        # beyond the calendar: assume a whole quarter to go (the window then holds no quarter end)
        to_quarter_end = int(self.panel.calendar["days_to_quarter_end"].get(next_day, LOOKBACK_DAYS))
        return series_state(self.panel.y, origin, to_quarter_end)

    def live(self, origin: int) -> np.ndarray:
        """Series with enough history and data in the week up to the origin."""
        seen = self.observed_cumsum[origin]
        recent = seen - (self.observed_cumsum[origin - 7] if origin >= 7 else 0)
        return np.flatnonzero((seen >= MIN_ORIGIN_DAYS) & (recent > 0))

    def rows(self, state: SeriesState, series: np.ndarray, threshold: np.ndarray, window: np.ndarray):
        return feature_rows(state, series, threshold, window, self.metric_code, self.archetype_code)

    def window_max(self, origin: int, window: int) -> tuple[np.ndarray, np.ndarray]:
        """(max, labelled) of y over the W days after the origin, per series."""
        block = self.panel.y[origin + 1 : origin + 1 + window]
        observed = np.isfinite(block).sum(axis=0)
        with np.errstate(all="ignore"):
            top = np.where(
                observed > 0, np.nanmax(np.where(np.isfinite(block), block, -np.inf), axis=0), np.nan
            )
        return top, (block.shape[0] == window) & (observed >= MIN_LABEL_SHARE * window)


def training_origins(view: PanelView, window: int, label_end: int) -> np.ndarray:
    """Origins whose W-day label window ends on or before day index `label_end`."""
    last = label_end - window
    first = MIN_ORIGIN_DAYS - 1
    if last < first:
        return np.empty(0, dtype=int)
    stride = max(1, int(np.ceil((last - first + 1) / MAX_ORIGINS_PER_WINDOW)))
    # Anchor on the last origin so the most recent behaviour is always in the training set.
    return np.arange(last, first - 1, -stride)[::-1]


@dataclass
class TrainingSet:
    x: pd.DataFrame
    y: np.ndarray
    series: np.ndarray
    windows: tuple[int, ...]  # windows that had at least one labelled row


def training_set(
    view: PanelView,
    windows: tuple[int, ...],
    label_end: int,
    max_rows: int,
    rng: np.random.Generator,
    series_filter: np.ndarray | None = None,
) -> TrainingSet:
    """Sampled rows (origin, series, window, threshold) with labels known by `label_end`."""
    thresholds = np.asarray(TRAINING_THRESHOLDS)
    plan = [(w, o) for w in windows for o in training_origins(view, w, label_end)]
    # Each window gets an equal share of the rows: short windows have many more labelled
    # origins, and left to that count they would teach the model mostly about tomorrow.
    candidates: dict[int, int] = {}
    for window, origin in plan:
        candidates[window] = candidates.get(window, 0) + view.live(origin).size * thresholds.size
    quota = max_rows / max(len(candidates), 1)
    share = {w: min(1.0, quota / max(n, 1)) for w, n in candidates.items()}
    frames, labels, series_out, used = [], [], [], set()
    states: dict[int, SeriesState] = {}
    for window, origin in plan:
        live = view.live(origin)
        if series_filter is not None:
            live = live[series_filter[live]]
        top, labelled = view.window_max(origin, window)
        live = live[labelled[live]]
        if not live.size:
            continue
        s = np.repeat(live, thresholds.size)
        x = np.tile(thresholds, live.size)
        keep = rng.random(s.size) < share[window]
        if not keep.any():
            continue
        s, x = s[keep], x[keep]
        state = states.get(origin) or states.setdefault(origin, view.state(origin))
        frames.append(view.rows(state, s, x, np.full(s.size, window)))
        labels.append(top[s] > x)
        series_out.append(s)
        used.add(window)
    if not frames:
        return TrainingSet(pd.DataFrame(columns=list(FEATURES)), np.empty(0, bool), np.empty(0, int), ())
    return TrainingSet(
        pd.concat(frames, ignore_index=True),
        np.concatenate(labels),
        np.concatenate(series_out),
        tuple(sorted(used)),
    )


@dataclass
class ExceedanceModel:
    """A fitted window-maximum model with what scoring needs to reproduce its inputs."""

    estimator: Any | None  # None when training saw a single class: then `base_rate` is used
    base_rate: float
    codes: dict[str, dict[str, int]]
    trained_windows: tuple[int, ...]
    rows_used: int
    positives: int
    fit_seconds: float

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        if self.estimator is None or rows.empty:
            return np.full(len(rows), self.base_rate)
        return self.estimator.predict_proba(rows[list(FEATURES)])[:, 1]

    def probability(
        self, view: PanelView, state: SeriesState, series: np.ndarray, threshold: np.ndarray, window: int
    ) -> tuple[np.ndarray, bool]:
        """P(max over `window` days > threshold) per row, and whether it was extrapolated."""
        longest = max(self.trained_windows) if self.trained_windows else window
        if window <= longest:
            rows = view.rows(state, series, threshold, np.full(series.size, window))
            return self.predict(rows), False
        rows = view.rows(state, series, threshold, np.full(series.size, longest))
        base = self.predict(rows)
        return 1.0 - (1.0 - base) ** (window / longest), True


def fit_exceedance_model(data: TrainingSet, codes: dict, settings: RiskSettings) -> ExceedanceModel:
    from sklearn.ensemble import HistGradientBoostingClassifier

    started = time.perf_counter()
    positives = int(data.y.sum())
    base_rate = (positives + 1) / (data.y.size + 2)  # Laplace: never exactly 0 or 1
    estimator = None
    if 0 < positives < data.y.size:
        names = list(FEATURES)
        estimator = HistGradientBoostingClassifier(
            monotonic_cst=monotone_constraints(),
            categorical_features=[names.index(c) for c in CATEGORICAL],
            random_state=settings.seed,
            **settings.model_params,
        ).fit(data.x[names], data.y)
    return ExceedanceModel(
        estimator,
        float(base_rate),
        codes,
        data.windows,
        int(data.y.size),
        positives,
        round(time.perf_counter() - started, 3),
    )


def train(
    view: PanelView,
    settings: RiskSettings,
    label_end: int,
    rng: np.random.Generator,
    series_filter: np.ndarray | None = None,
) -> ExceedanceModel:
    data = training_set(
        view, settings.training_windows, label_end, settings.max_train_rows, rng, series_filter
    )
    return fit_exceedance_model(data, view.codes, settings)
