"""The SQL feature layer checked against an independent pandas computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import PROJECT_DIR

from capacity_forecaster.config import load_vars

pytestmark = pytest.mark.dbt


def pandas_features(daily: pd.DataFrame, lags: list[int], windows: list[int]) -> pd.DataFrame:
    frames = []
    for (server_id, metric), group in daily.groupby(["server_id", "metric"]):
        indexed = group.set_index("metric_date")
        series = indexed["p95_pct"].where(~indexed["is_low_coverage"])
        series = series.reindex(pd.date_range(series.index.min(), series.index.max(), freq="D"))
        out = pd.DataFrame({"server_id": server_id, "metric": metric, "p95_pct": series})
        for k in lags:
            out[f"p95_lag_{k}_pct"] = series.shift(k)
        for w in windows:
            out[f"p95_rolling_mean_{w}_pct"] = series.rolling(w, min_periods=1).mean()
            out[f"p95_rolling_std_{w}_pct"] = series.rolling(w, min_periods=2).std()
        frames.append(out.rename_axis("metric_date").reset_index())
    return pd.concat(frames, ignore_index=True)


def test_lags_and_rolling_windows_match_pandas(built_warehouse):
    cfg = load_vars(PROJECT_DIR)
    sample = "('srv-0001', 'srv-0004', 'srv-0009', 'srv-0013')"
    daily = built_warehouse.query(f"""
        select server_id, metric, metric_date, p95_pct, is_low_coverage
        from main_marts.fct_server_daily_metrics where server_id in {sample}
    """)
    daily["metric_date"] = pd.to_datetime(daily.metric_date)
    assert daily.is_low_coverage.any(), "the sample should include low-coverage days"
    expected = pandas_features(daily, cfg["feature_lags"], cfg["rolling_windows"])
    actual = built_warehouse.query(f"""
        select * from main_intermediate.int_daily_features_computed where server_id in {sample}
    """)
    actual["metric_date"] = pd.to_datetime(actual.metric_date)
    keys = ["server_id", "metric", "metric_date"]
    merged = expected.merge(actual, on=keys, suffixes=("_pd", "_sql"), how="outer", indicator=True)
    assert (merged["_merge"] == "both").all(), "row sets differ"
    feature_columns = [c for c in expected.columns if c not in keys]
    assert len(feature_columns) == 1 + 3 + 2 * 3
    for column in feature_columns:
        np.testing.assert_allclose(
            merged[f"{column}_sql"].astype(float), merged[f"{column}_pd"].astype(float),
            rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=column,
        )


def test_calendar_flags_match_python(built_warehouse):
    cal = built_warehouse.query("select * from main_intermediate.int_calendar_days_generated")
    dates = pd.to_datetime(cal.calendar_date)
    quarter_end = dates + pd.offsets.QuarterEnd(0)
    assert (cal.day_of_week == dates.dt.dayofweek).all()
    assert (cal.is_month_end == dates.dt.is_month_end).all()
    assert (cal.days_to_quarter_end == (quarter_end - dates).dt.days).all()
    assert (cal.is_end_of_quarter == ((quarter_end - dates).dt.days < 7)).all()
