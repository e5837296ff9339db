"""Features for the window-maximum question: "will the largest daily P95 of the next W days
exceed x?", for one origin day t, every series, any threshold x and window W.

Everything is computed from days <= t only (the panel rows up to the origin), so the same
function builds training rows at past origins and scoring rows at today's origin.

Threshold-dependent features are all monotone in x (gaps grow with x, counts and tail
probabilities shrink), and window-dependent ones monotone in W; the model constrains each
accordingly, so the predicted P(max > x) is a proper survival function in x and a proper
first-passage distribution in W (never more likely to cross 90 % than 80 %, nor within 30 days
than within 90).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

# How far back the features look: a quarter, so a quarter-end peak is always in view.
LOOKBACK_DAYS = 90
MONTH_DAYS = 28  # the "recent month" statistics: four whole weeks, so weekdays weigh equally
# Look-back lengths (days) of the recent maxima: level, spread and peaks at several scales.
MAX_WINDOWS = (1, 3, 7, 14, MONTH_DAYS, LOOKBACK_DAYS)
NEAR_MARGIN_PCT = 10.0  # "near the threshold" = within this many points below it
TAIL_QUANTILE = 80  # peaks-over-threshold base level: the series' 80th percentile

# name -> monotone direction of P(max > x) in the feature (+1 up, -1 down, 0 free).
THRESHOLD_FEATURES = {
    "threshold_pct": -1,
    **{f"gap_max_{k}d": -1 for k in MAX_WINDOWS},
    "gap_mean_7d": -1,
    "gap_mean_28d": -1,
    "gap_p90_90d": -1,
    "days_over_28d": +1,
    "days_over_90d": +1,
    "days_near_28d": +1,
    "days_since_near": -1,
}
WINDOW_FEATURES = {"window_days": +1, "tail_probability": +1, "window_has_quarter_end": +1}
SERIES_FEATURES = {
    "level_pct": 0,
    "std_7d": 0,
    "std_28d": 0,
    "mean_abs_change_14d": 0,
    "slope_28d": 0,
    "slope_90d": 0,
    "observed_days_90d": 0,
    "history_days": 0,
}
CATEGORICAL = ("metric_code", "archetype_code")
FEATURES = (*THRESHOLD_FEATURES, *WINDOW_FEATURES, *SERIES_FEATURES, *CATEGORICAL)


def monotone_constraints() -> list[int]:
    directions = {**THRESHOLD_FEATURES, **WINDOW_FEATURES, **SERIES_FEATURES}
    return [directions.get(name, 0) for name in FEATURES]


def _quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return func(*args, **kwargs)


def _slope(window: np.ndarray) -> np.ndarray:
    """Least-squares slope (points per day) of each column, ignoring missing days."""
    days = np.arange(window.shape[0], dtype=float)[:, None]
    mask = np.isfinite(window)
    n = mask.sum(axis=0)
    x = np.where(mask, days, 0.0)
    y = np.where(mask, window, 0.0)
    mean_x = x.sum(axis=0) / np.maximum(n, 1)
    mean_y = y.sum(axis=0) / np.maximum(n, 1)
    cov = (np.where(mask, (days - mean_x) * (window - mean_y), 0.0)).sum(axis=0)
    var = (np.where(mask, (days - mean_x) ** 2, 0.0)).sum(axis=0)
    return np.where((n >= 7) & (var > 0), cov / np.where(var > 0, var, 1.0), 0.0)


@dataclass
class SeriesState:
    """What is known about every series at one origin (arrays of length S)."""

    origin: int
    recent: np.ndarray  # (LOOKBACK_DAYS, S) the last days up to the origin, NaN where unobserved
    stats: dict[str, np.ndarray]
    tail_base: np.ndarray  # peaks-over-threshold base level u
    tail_rate: np.ndarray  # P(daily P95 > u) per observed day
    tail_scale: np.ndarray  # mean excess over u (exponential tail)
    days_to_quarter_end: int


def series_state(y: np.ndarray, origin: int, days_to_quarter_end: int) -> SeriesState:
    """Statistics of every series from days <= origin (`y` is the (D, S) daily P95 panel)."""
    history = y[: origin + 1]
    recent = history[-LOOKBACK_DAYS:]
    if recent.shape[0] < LOOKBACK_DAYS:
        pad = np.full((LOOKBACK_DAYS - recent.shape[0], y.shape[1]), np.nan)
        recent = np.vstack([pad, recent])
    stats: dict[str, np.ndarray] = {}
    for k in MAX_WINDOWS:
        stats[f"max_{k}d"] = _quiet(np.nanmax, recent[-k:], axis=0)
    stats["mean_7d"] = _quiet(np.nanmean, recent[-7:], axis=0)
    stats["mean_28d"] = _quiet(np.nanmean, recent[-MONTH_DAYS:], axis=0)
    stats["p90_90d"] = _quiet(np.nanpercentile, recent, 90, axis=0)  # the 90th percentile
    stats["std_7d"] = _quiet(np.nanstd, recent[-7:], axis=0)
    stats["std_28d"] = _quiet(np.nanstd, recent[-MONTH_DAYS:], axis=0)
    stats["mean_abs_change_14d"] = _quiet(np.nanmean, np.abs(np.diff(recent[-15:], axis=0)), axis=0)
    stats["slope_28d"] = _slope(recent[-MONTH_DAYS:])
    stats["slope_90d"] = _slope(recent)
    stats["observed_days_90d"] = np.isfinite(recent).sum(axis=0).astype(float)
    stats["history_days"] = np.isfinite(history).sum(axis=0).astype(float)
    # The level: the recent mean, or the last value the series had when that week is empty.
    level = stats["mean_7d"]
    last_seen = _quiet(np.nanmean, recent[-MONTH_DAYS:], axis=0)
    stats["level_pct"] = np.where(np.isfinite(level), level, last_seen)

    # Peaks over threshold with an exponential tail (generalised Pareto, shape 0): above the
    # series' own 80th percentile u, P(y > x) = P(y > u) * exp(-(x - u) / mean excess).
    # It extrapolates a spiky series' peaks beyond anything it has reached so far.
    n = np.maximum(stats["observed_days_90d"], 1)
    base = _quiet(np.nanpercentile, recent, TAIL_QUANTILE, axis=0)
    excess = recent - base
    excess = np.where(excess > 0, excess, np.nan)
    scale = _quiet(np.nanmean, excess, axis=0)
    rate = np.sum(recent > base, axis=0) / n
    return SeriesState(
        origin=origin,
        recent=recent,
        stats=stats,
        tail_base=base,
        tail_rate=rate,
        tail_scale=np.where(np.isfinite(scale), np.maximum(scale, 1.0), 1.0),
        days_to_quarter_end=days_to_quarter_end,
    )


def tail_probability(state: SeriesState, series: np.ndarray, threshold: np.ndarray, window: np.ndarray):
    """P(max over `window` days > threshold) if days were independent draws from the tail."""
    recent = state.recent[:, series]
    n = np.maximum(state.stats["observed_days_90d"][series], 1)
    empirical = np.sum(recent > threshold[None, :], axis=0) / n
    base = state.tail_base[series]
    extrapolated = state.tail_rate[series] * np.exp(-(threshold - base) / state.tail_scale[series])
    per_day = np.where(threshold <= base, empirical, extrapolated)
    per_day = np.where(np.isfinite(per_day), np.clip(per_day, 0.0, 1.0), 0.0)
    return 1.0 - (1.0 - per_day) ** window


def feature_rows(
    state: SeriesState,
    series: np.ndarray,
    threshold: np.ndarray,
    window: np.ndarray,
    metric_code: np.ndarray,
    archetype_code: np.ndarray,
) -> pd.DataFrame:
    """One row per (series[i], threshold[i], window[i]): the model's inputs, in FEATURES order."""
    s = state.stats
    recent = state.recent[:, series]
    over = recent > threshold[None, :]
    near = recent > (threshold - NEAR_MARGIN_PCT)[None, :]
    # days since the last near-threshold day (0 = the origin day; LOOKBACK_DAYS = not seen)
    last_near = np.where(near.any(axis=0), np.argmax(near[::-1], axis=0), LOOKBACK_DAYS)
    columns: dict[str, np.ndarray] = {"threshold_pct": threshold.astype(float)}
    for k in MAX_WINDOWS:
        columns[f"gap_max_{k}d"] = threshold - s[f"max_{k}d"][series]
    columns["gap_mean_7d"] = threshold - s["level_pct"][series]
    columns["gap_mean_28d"] = threshold - s["mean_28d"][series]
    columns["gap_p90_90d"] = threshold - s["p90_90d"][series]
    columns["days_over_28d"] = over[-MONTH_DAYS:].sum(axis=0).astype(float)
    columns["days_over_90d"] = over.sum(axis=0).astype(float)
    columns["days_near_28d"] = near[-MONTH_DAYS:].sum(axis=0).astype(float)
    columns["days_since_near"] = last_near.astype(float)
    columns["window_days"] = window.astype(float)
    columns["tail_probability"] = tail_probability(state, series, threshold, window)
    columns["window_has_quarter_end"] = (state.days_to_quarter_end < window).astype(float)
    for name in SERIES_FEATURES:
        columns[name] = s[name][series]
    columns["metric_code"] = metric_code[series].astype(float)
    columns["archetype_code"] = archetype_code[series].astype(float)
    return pd.DataFrame(columns)[list(FEATURES)]
