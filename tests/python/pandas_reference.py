"""A pandas implementation of the staging -> daily P95 -> feature pipeline.

Not used by the pipeline: it is the independent reference the tests compare the SQL layer
against, and the baseline the benchmark measures DuckDB against. Vectorised (no per-series
Python loops) so the comparison is fair.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds

METRICS = ("cpu", "memory", "disk_io", "network")


def daily_from_raw(raw_root: Path, min_daily_coverage: float) -> pd.DataFrame:
    """Hourly raw Parquet -> daily P95 / coverage per server x metric x day (valid rows only)."""
    hourly = (
        ds.dataset(raw_root / "metrics", format="parquet", partitioning="hive")
        .to_table(columns=["timestamp", "server_id", *[f"{m}_p95" for m in METRICS]])
        .to_pandas()
    )
    hourly["metric_date"] = hourly["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    hourly = hourly.drop_duplicates(["server_id", "timestamp"])
    long = hourly.melt(
        id_vars=["server_id", "metric_date"],
        value_vars=[f"{m}_p95" for m in METRICS],
        var_name="metric",
        value_name="value",
    )
    long["metric"] = long["metric"].str.removesuffix("_p95")
    long = long[long["value"].between(0, 100)]
    grouped = long.groupby(["server_id", "metric", "metric_date"], observed=True)["value"]
    daily = grouped.quantile(0.95).rename("p95_pct").to_frame()
    daily["hours_present"] = grouped.size()
    daily["is_low_coverage"] = daily["hours_present"] / 24 < min_daily_coverage
    return daily.reset_index()


def features_from_daily(daily: pd.DataFrame, lags: list[int], windows: list[int]) -> pd.DataFrame:
    """Dense daily grid per series, then lags and rolling mean/std (window ends at the day)."""
    values = daily["p95_pct"].where(~daily["is_low_coverage"])
    wide = (
        pd.Series(
            values.to_numpy(), index=pd.MultiIndex.from_frame(daily[["metric_date", "server_id", "metric"]])
        )
        .unstack(["server_id", "metric"])
        .sort_index()
    )
    wide = wide.reindex(pd.date_range(wide.index.min(), wide.index.max(), freq="D"))
    spans = daily.groupby(["server_id", "metric"])["metric_date"].agg(["min", "max"])
    inside = pd.DataFrame(
        (wide.index.to_numpy()[:, None] >= spans["min"].reindex(wide.columns).to_numpy())
        & (wide.index.to_numpy()[:, None] <= spans["max"].reindex(wide.columns).to_numpy()),
        index=wide.index,
        columns=wide.columns,
    )
    out = {"p95_pct": wide}
    for k in lags:
        out[f"p95_lag_{k}_pct"] = wide.shift(k)
    for w in windows:
        out[f"p95_rolling_mean_{w}_pct"] = wide.rolling(w, min_periods=1).mean()
        out[f"p95_rolling_std_{w}_pct"] = wide.rolling(w, min_periods=2).std()
    stacked = {
        name: frame.where(inside).stack(["server_id", "metric"], future_stack=True)[
            inside.stack(["server_id", "metric"], future_stack=True)
        ]
        for name, frame in out.items()
    }
    result = pd.DataFrame(stacked).rename_axis(["metric_date", "server_id", "metric"])
    return result.reset_index()


def calendar_frame(
    first: pd.Timestamp, last: pd.Timestamp, quarter_end_window_days: int, holidays: list[str]
) -> pd.DataFrame:
    """The calendar features of int_calendar_days_generated, computed with pandas."""
    dates = pd.date_range(first, last, freq="D")
    quarter_end = dates + pd.offsets.QuarterEnd(0)
    to_quarter_end = (quarter_end - dates).days
    return pd.DataFrame(
        {
            "calendar_date": dates,
            "day_of_week": dates.dayofweek,
            "month_of_year": dates.month,
            "days_to_quarter_end": to_quarter_end,
            "is_weekend": dates.dayofweek >= 5,
            "is_month_end": dates.is_month_end,
            "is_end_of_quarter": to_quarter_end < quarter_end_window_days,
            "is_holiday": dates.strftime("%m-%d").isin(holidays),
        }
    )
