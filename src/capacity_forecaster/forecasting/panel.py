"""The forecasting panel: every series (server x metric) as columns of dense daily matrices.

Built once from the SQL feature layer (int_daily_features_computed) and the calendar, so
every model sees the same data and origin-indexed slicing is plain numpy: "what was known at
origin t" is rows <= t, which makes leakage easy to rule out and to test.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from capacity_forecaster.frames import TableLike, to_pandas

CALENDAR_FEATURES = (
    "day_of_week",
    "month_of_year",
    "days_to_quarter_end",
    "is_end_of_quarter",
    "is_month_end",
    "is_holiday",
    "is_weekend",
)


@dataclass
class Panel:
    dates: pd.DatetimeIndex  # observed days, D
    keys: pd.DataFrame  # S rows: server_id, metric, archetype
    y: np.ndarray  # (D, S) daily P95, NaN when missing / low coverage / not in service
    features: dict[str, np.ndarray]  # SQL features at each (day, series), (D, S)
    calendar: pd.DataFrame  # indexed by day, covers dates and the forecast horizon

    @property
    def n_series(self) -> int:
        return self.y.shape[1]

    def date_index(self, date: pd.Timestamp) -> int:
        return int(self.dates.get_loc(pd.Timestamp(date)))

    def observed_days(self, upto: int) -> np.ndarray:
        """(S,) count of observed days at or before index `upto`."""
        return np.sum(~np.isnan(self.y[: upto + 1]), axis=0)

    def origin_index(self) -> int:
        """The last well-covered day: the newest day on which at least half of the series seen
        in the week before it have a value. A partial last day (low coverage for most series)
        is never an origin, so forecasts and flags do not move with an incomplete day."""
        counts = np.isfinite(self.y).sum(axis=1)
        for day in range(len(counts) - 1, -1, -1):
            before = counts[max(0, day - 7) : day]
            if counts[day] > 0 and counts[day] >= 0.5 * (before.max() if before.size else 0):
                return day
        return len(counts) - 1

    def subset(self, columns: np.ndarray) -> Panel:
        return Panel(
            self.dates,
            self.keys.iloc[columns].reset_index(drop=True),
            self.y[:, columns],
            {k: v[:, columns] for k, v in self.features.items()},
            self.calendar,
        )


def build_panel(
    features: TableLike, servers: TableLike, calendar: TableLike, feature_columns: list[str] | None = None
) -> Panel:
    """Pivot the long feature table into (day x series) matrices.

    `features`: int_daily_features_computed; `servers`: dim_servers (server_id, archetype);
    `calendar`: int_calendar_days_generated. Arrow tables, DuckDB relations or DataFrames.
    """
    long = to_pandas(features)
    inventory = to_pandas(servers)[["server_id", "archetype"]]
    cal = to_pandas(calendar).copy()
    cal["calendar_date"] = pd.to_datetime(cal["calendar_date"])
    cal = cal.set_index("calendar_date").sort_index()

    long["metric_date"] = pd.to_datetime(long["metric_date"])
    keys = (
        long[["server_id", "metric"]]
        .drop_duplicates()
        .merge(inventory, on="server_id", how="left")
        .sort_values(["server_id", "metric"])
        .reset_index(drop=True)
    )
    keys["archetype"] = keys["archetype"].fillna("unknown")
    dates = pd.date_range(long["metric_date"].min(), long["metric_date"].max(), freq="D")
    row = dates.get_indexer(long["metric_date"])
    col = pd.MultiIndex.from_frame(keys[["server_id", "metric"]]).get_indexer(
        pd.MultiIndex.from_frame(long[["server_id", "metric"]])
    )
    numeric = feature_columns or [
        c
        for c in long.columns
        if c.startswith("p95_") and c != "p95_pct" and pd.api.types.is_numeric_dtype(long[c])
    ]

    def matrix(column: str) -> np.ndarray:
        out = np.full((len(dates), len(keys)), np.nan)
        out[row, col] = pd.to_numeric(long[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        return out

    return Panel(dates, keys, matrix("p95_pct"), {c: matrix(c) for c in numeric}, cal)


def quiet_nanmean(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """np.nanmean that returns NaN for all-missing slices without warning about it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


def seasonal_naive_scale(y: np.ndarray, upto: int | None = None, floor: float = 0.5) -> np.ndarray:
    """MASE denominator per series: mean |y_t - y_{t-7}| over rows <= upto (in-sample)."""
    hist = y if upto is None else y[: upto + 1]
    diffs = np.abs(hist[7:] - hist[:-7])
    scale = quiet_nanmean(diffs) if diffs.size else np.full(y.shape[1], np.nan)
    return np.where(np.isfinite(scale), np.maximum(scale, floor), floor)


def forward_fill(y: np.ndarray) -> np.ndarray:
    """Carry the last observed value forward along the day axis (per series)."""
    mask = np.isnan(y)
    idx = np.where(~mask, np.arange(y.shape[0])[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    filled = y[idx, np.arange(y.shape[1])]
    return filled
