"""Baselines every other model is judged against, vectorised over all series."""

from __future__ import annotations

import numpy as np

from capacity_forecaster.forecasting.panel import Panel, forward_fill, quiet_nanmean


def seasonal_naive(panel: Panel, origin: int, horizon: int) -> np.ndarray:
    """(S, H): the same weekday in the last observed week (forward-filled over gaps)."""
    filled = forward_fill(panel.y[: origin + 1])
    h = np.arange(1, horizon + 1)
    source = origin + h - 7 * np.ceil(h / 7).astype(int)
    source = np.clip(source, 0, origin)
    return filled[source].T


def last_value(panel: Panel, origin: int, horizon: int) -> np.ndarray:
    """(S, H): the last observed value, flat (the naive forecast)."""
    filled = forward_fill(panel.y[: origin + 1])
    return np.repeat(filled[origin][:, None], horizon, axis=1)


def moving_average(panel: Panel, origin: int, horizon: int, window_days: int) -> np.ndarray:
    """(S, H): the mean of the last `window_days` observed days, flat."""
    recent = panel.y[max(0, origin + 1 - window_days) : origin + 1]
    level = quiet_nanmean(recent) if recent.size else np.full(panel.n_series, np.nan)
    return np.repeat(level[:, None], horizon, axis=1)


def archetype_pooled(
    panel: Panel, origin: int, horizon: int, train_end: int, min_history_days: int
) -> np.ndarray:
    """(S, H): cold-start forecast. The series' own recent level times its archetype x metric
    weekday profile, pooled over mature series with data up to `train_end` only."""
    level = quiet_nanmean(panel.y[max(0, origin - 27) : origin + 1])
    history = panel.y[: train_end + 1]
    dow = panel.calendar["day_of_week"].reindex(panel.dates[: train_end + 1]).to_numpy()
    mature = np.sum(~np.isnan(history), axis=0) >= min_history_days
    groups = panel.keys["archetype"].astype(str) + "|" + panel.keys["metric"].astype(str)
    factors = np.ones((panel.n_series, 7))
    for group in groups.unique():
        members = (groups == group).to_numpy()
        cols = np.flatnonzero(members & mature)
        if cols.size == 0:
            continue
        # A ratio of sums, not a mean of ratios: near-idle series (a few tenths of a percent)
        # would otherwise turn noise into huge weekday multipliers for the whole group.
        block = history[:, cols]
        total = np.nansum(block) / max(np.isfinite(block).sum(), 1)
        profile = np.array(
            [np.nansum(block[dow == d]) / max(np.isfinite(block[dow == d]).sum(), 1) for d in range(7)]
        )
        profile = profile / total if total > 0 else np.ones(7)
        factors[members] = np.where(np.isfinite(profile), profile, 1.0)
    target_dates = panel.dates[origin] + np.arange(1, horizon + 1) * np.timedelta64(1, "D")
    target_dow = panel.calendar["day_of_week"].reindex(target_dates).to_numpy().astype(int)
    # The level window spans whole weeks, so its weekday mix averages to ~1.
    return level[:, None] * factors[:, target_dow]
