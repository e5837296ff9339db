"""The SQL feature layer checked against an independent pandas computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import PROJECT_DIR
from pandas_reference import calendar_frame, daily_from_raw, features_from_daily

from capacity_forecaster.config import load_vars

pytestmark = pytest.mark.dbt


def test_lags_and_rolling_windows_match_pandas(built_warehouse):
    cfg = load_vars(PROJECT_DIR)
    sample = "('srv-0001', 'srv-0004', 'srv-0009', 'srv-0013')"
    daily = built_warehouse.query(f"""
        select server_id, metric, metric_date, p95_pct, is_low_coverage
        from main_marts.fct_server_daily_metrics where server_id in {sample}
    """)
    daily["metric_date"] = pd.to_datetime(daily.metric_date)
    assert daily.is_low_coverage.any(), "the sample should include low-coverage days"
    expected = features_from_daily(daily, cfg["feature_lags"], cfg["rolling_windows"])
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
            merged[f"{column}_sql"].astype(float),
            merged[f"{column}_pd"].astype(float),
            rtol=1e-9,
            atol=1e-9,
            equal_nan=True,
            err_msg=column,
        )


def test_calendar_flags_match_python(built_warehouse):
    cfg = load_vars(PROJECT_DIR)
    cal = built_warehouse.query("select * from main_intermediate.int_calendar_days_generated")
    cal["calendar_date"] = pd.to_datetime(cal.calendar_date)
    expected = calendar_frame(
        cal.calendar_date.min(), cal.calendar_date.max(), cfg["quarter_end_window_days"], cfg["holidays"]
    )
    assert len(expected) == len(cal)
    for column in expected.columns:
        assert (cal[column].to_numpy() == expected[column].to_numpy()).all(), column


def test_daily_p95_matches_pandas(built_warehouse):
    expected = daily_from_raw(built_warehouse.raw, load_vars(PROJECT_DIR)["min_daily_coverage"])
    actual = built_warehouse.query("select * from main_intermediate.int_daily_metrics_aggregated")
    actual["metric_date"] = pd.to_datetime(actual.metric_date)
    merged = expected.merge(
        actual,
        on=["server_id", "metric", "metric_date"],
        how="outer",
        suffixes=("_pd", "_sql"),
        indicator=True,
    )
    assert (merged["_merge"] == "both").all() and len(merged) > 1000
    np.testing.assert_allclose(merged.p95_pct_sql, merged.p95_pct_pd, rtol=1e-6)
    assert (merged.hours_present_sql == merged.hours_present_pd).all()
    assert (merged.is_low_coverage_sql == merged.is_low_coverage_pd).all()
