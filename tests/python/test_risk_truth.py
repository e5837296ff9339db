"""Scoring risk flags against the hidden future: resolved thresholds, new vs already
breaching series, precision, recall and lead time on a hand-made example."""

from __future__ import annotations

import pandas as pd
import pytest

from capacity_forecaster.truth import label_series, load_future_daily, risk_state_counts, score

ORIGIN = pd.Timestamp("2024-01-31")


def day(n: int) -> pd.Timestamp:
    return ORIGIN + pd.Timedelta(days=n)


def risk_rows() -> pd.DataFrame:
    rows = [  # server, metric, window, class, high, very high thresholds
        ("a", "cpu", 30, "high_risk", 80.0, 90.0),
        ("b", "memory", 30, "high_risk", 85.0, 95.0),  # database memory: resolved 85/95
        ("c", "cpu", 30, "normal", 80.0, 90.0),
        ("d", "cpu", 30, "very_high_risk", 80.0, 90.0),
        ("e", "cpu", 30, "very_high_risk", 80.0, 90.0),
        ("e", "cpu", 90, "very_high_risk", 80.0, 90.0),
        ("f", "network", 30, "underutilized", 80.0, 90.0),
        ("g", "cpu", 30, "high_risk", 80.0, 90.0),  # no future data (decommissioned)
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "server_id",
            "metric",
            "window_days",
            "risk_class",
            "high_risk_threshold_pct",
            "very_high_risk_threshold_pct",
        ],
    )
    return frame.assign(origin_date=ORIGIN.date())


def future_rows() -> pd.DataFrame:
    rows = [
        ("a", "cpu", day(3), 70.0),
        ("a", "cpu", day(5), 85.0),  # first above 80 on day 5, never above 90
        ("b", "memory", day(2), 84.0),  # above the global 80, below its resolved 85
        ("c", "cpu", day(10), 92.0),  # unflagged breach of both thresholds
        ("d", "cpu", day(1), 97.0),
        ("e", "cpu", day(20), 50.0),
        ("e", "cpu", day(40), 91.0),  # only within the 90-day window
        ("f", "network", day(4), 30.0),
    ]
    return pd.DataFrame(rows, columns=["server_id", "metric", "metric_date", "p95_pct"])


def recent_rows() -> pd.DataFrame:
    rows = [
        ("a", "cpu", day(-1), 60.0),
        ("c", "cpu", day(-3), 70.0),
        ("d", "cpu", day(-2), 95.0),  # already above both thresholds in the last week
        ("f", "network", day(-8), 99.0),  # above, but 8 days back: not the last week
    ]
    return pd.DataFrame(rows, columns=["server_id", "metric", "metric_date", "p95_pct"])


@pytest.fixture
def scores() -> pd.DataFrame:
    labelled = label_series(risk_rows(), future_rows(), recent_rows())
    return score(labelled).set_index(["population", "risk_class", "window_days"])


def counts(row) -> tuple[int, int, int, int]:
    return (row.true_positives, row.false_positives, row.false_negatives, row.true_negatives)


def test_high_class_uses_the_resolved_threshold_per_series(scores):
    high = scores.loc[("all", "high_risk", 30)]
    # a and d breach in time (TP); b's 84 stays under its resolved 85 and e breaches only on
    # day 40 (FP); c breaches unflagged (FN); f stays low (TN); g has no truth and is left out.
    assert counts(high) == (2, 2, 1, 1)
    assert high.series == 6
    assert high.precision == 0.5 and high.recall == pytest.approx(2 / 3)
    assert high.median_lead_time_days == 3.0  # a on day 5, d on day 1


def test_new_breaches_are_scored_apart_from_series_already_breaching(scores):
    new = scores.loc[("new_breach", "high_risk", 30)]
    assert counts(new) == (1, 2, 1, 1)  # d is out: it was above 80 two days before the origin
    assert new.precision == pytest.approx(1 / 3) and new.recall == 0.5
    assert new.median_lead_time_days == 5.0
    already = scores.loc[("already_breaching", "high_risk", 30)]
    assert counts(already) == (1, 0, 0, 0) and already.median_lead_time_days == 1.0


def test_very_high_class_and_longer_window(scores):
    very = scores.loc[("all", "very_high_risk", 30)]
    assert counts(very) == (1, 1, 1, 3)  # d TP, e FP (day 40), c FN, a/b/f TN
    assert very.precision == 0.5 and very.recall == 0.5
    ninety = scores.loc[("all", "very_high_risk", 90)]
    assert counts(ninety) == (1, 0, 0, 0) and ninety.median_lead_time_days == 40.0


def test_risk_state_counts_only_when_the_marts_carry_it():
    labelled = label_series(risk_rows(), future_rows(), recent_rows())
    assert risk_state_counts(labelled) is None
    states = [
        "breaching_now",
        "forecast_breach",
        "forecast_breach",
        "breaching_now",
        "none",
        "none",
        "none",
        "none",
    ]
    with_state = label_series(risk_rows().assign(risk_state=states), future_rows(), recent_rows())
    table = risk_state_counts(with_state).set_index(["risk_class_scored", "window_days", "risk_state"])
    assert table.loc[("high_risk", 30, "breaching_now")].tolist() == [2, 1, 2]  # a, d
    assert table.loc[("high_risk", 30, "forecast_breach")].tolist() == [2, 0, 1]  # b, c


def test_missing_truth_is_a_clear_error(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"future_daily_p95\.parquet not found: generate with --future-days"
    ):
        load_future_daily(tmp_path)
