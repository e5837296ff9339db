"""How server-like a fleet is: statistics of daily P95 that real and synthetic fleets share.

The daily P95 is the project's: quantile_cont(0.95) over the day's hourly P95 values. Only
trusted days (hours present >= min_daily_coverage x 24) count, for real and synthetic alike.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

BUSY_PCT = 80.0
CEILING_PCT = 98.0
CEILING_WINDOW_DAYS = 30
MIN_SERIES_DAYS = 28  # series-level statistics need this many trusted days in the window


def daily_p95_from_raw(
    raw_root: Path, metrics: list[str] | tuple[str, ...], first_date=None, last_date=None
) -> pd.DataFrame:
    """Daily P95 per server x metric x day from the raw contract's hourly Parquet."""
    where = []
    if first_date is not None:
        where.append(f"date >= date '{first_date}'")
    if last_date is not None:
        where.append(f"date <= date '{last_date}'")
    unpivot = ", ".join(f"{m}_p95 as '{m}'" for m in metrics)
    return duckdb.sql(f"""
        with hourly as (
            select server_id, cast(date as date) as metric_date, value, metric
            from read_parquet('{raw_root}/metrics/*/*.parquet', hive_partitioning = true)
            unpivot (value for metric in ({unpivot}))
            {"where " + " and ".join(where) if where else ""}
        )
        select server_id, metric, metric_date,
               quantile_cont(value, 0.95) as p95_pct, count(value) as hours_present
        from hourly
        group by all
        order by all
    """).df()


def _wide(daily: pd.DataFrame, min_hours: float) -> pd.DataFrame:
    """Days x series (server, metric) of trusted daily P95, every calendar day a row."""
    trusted = daily[daily["hours_present"] >= min_hours]
    wide = trusted.pivot_table(
        index="metric_date", columns=["server_id", "metric"], values="p95_pct", aggfunc="first"
    )
    wide.index = pd.to_datetime(wide.index)
    return wide.reindex(pd.date_range(wide.index.min(), wide.index.max(), freq="D"))


def _lag_autocorrelation(values: np.ndarray, lag: int) -> np.ndarray:
    """Pearson correlation of each column with itself `lag` rows later (pairs both present)."""
    a, b = values[:-lag], values[lag:]
    ok = ~np.isnan(a) & ~np.isnan(b)
    n = ok.sum(axis=0)
    a, b = np.where(ok, a, 0.0), np.where(ok, b, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ma, mb = a.sum(axis=0) / n, b.sum(axis=0) / n
        cov = (np.where(ok, (a - ma) * (b - mb), 0)).sum(axis=0)
        va = (np.where(ok, (a - ma) ** 2, 0)).sum(axis=0)
        vb = (np.where(ok, (b - mb) ** 2, 0)).sum(axis=0)
        r = cov / np.sqrt(va * vb)
    return np.where((n >= MIN_SERIES_DAYS // 2) & (va > 0) & (vb > 0), r, np.nan)


def realism_stats(daily: pd.DataFrame, min_hours: float = 18) -> dict[str, dict[str, float]]:
    """Per metric: level quantiles, day-to-day change, busy shares, autocorrelation, first
    crossings of BUSY_PCT over the window `daily` covers (normally 61 days)."""
    out: dict[str, dict[str, float]] = {}
    wide_all = _wide(daily, min_hours)
    half = (len(wide_all) + 1) // 2  # 61 days: 31 before, 30 after
    for metric in sorted(daily["metric"].unique()):
        wide = wide_all.xs(metric, axis=1, level="metric")
        values = wide.to_numpy(dtype=float)
        present = values[~np.isnan(values)]
        change = np.abs(np.diff(values, axis=0))
        change = change[~np.isnan(change)]
        series = (~np.isnan(values)).sum(axis=0) >= MIN_SERIES_DAYS
        v = values[:, series]
        with np.errstate(invalid="ignore"):
            first_max = np.nanmax(np.where(np.isnan(v[:half]), -np.inf, v[:half]), axis=0)
            second_max = np.nanmax(np.where(np.isnan(v[half:]), -np.inf, v[half:]), axis=0)
        both = np.isfinite(first_max) & np.isfinite(second_max)
        quantiles = np.percentile(present, [10, 50, 90])
        change_q = np.percentile(change, [50, 90, 99])
        out[metric] = {
            "server_days": int(present.size),
            "series": int(series.sum()),
            "level_p10": float(quantiles[0]),
            "level_p50": float(quantiles[1]),
            "level_p90": float(quantiles[2]),
            "change_p50": float(change_q[0]),
            "change_p90": float(change_q[1]),
            "change_p99": float(change_q[2]),
            "share_days_above_80": float((present > BUSY_PCT).mean()),
            "lag1_autocorrelation": float(np.nanmedian(_lag_autocorrelation(v, 1))),
            "lag7_autocorrelation": float(np.nanmedian(_lag_autocorrelation(v, 7))),
            "share_series_any_day_above_80": float((np.nanmax(v, axis=0) > BUSY_PCT).mean()),
            "share_series_first_cross_80_in_30_days": float(
                ((first_max <= BUSY_PCT) & (second_max > BUSY_PCT))[both].mean()
            ),
        }
    return out


def ceiling_share(daily: pd.DataFrame, min_hours: float = 18) -> pd.Series:
    """Per day: share of live servers whose trailing 30-day mean of daily P95 is >= 98 % on
    some metric (live = at least half the window's days trusted)."""
    wide = _wide(daily, min_hours)
    rolling = wide.rolling(CEILING_WINDOW_DAYS, min_periods=CEILING_WINDOW_DAYS // 2).mean()
    at_ceiling = (rolling >= CEILING_PCT).T.groupby(level="server_id").any().T
    live = rolling.notna().T.groupby(level="server_id").any().T
    share = at_ceiling.sum(axis=1) / live.sum(axis=1)
    return share[live.sum(axis=1) > 0]
