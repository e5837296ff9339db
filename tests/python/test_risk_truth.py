from __future__ import annotations

import pandas as pd

from capacity_forecaster.truth import score_against_truth


def test_flags_scored_against_future_crossings_within_the_window():
    risk = pd.DataFrame(
        {
            "server_id": ["a", "b", "c", "d"],
            "metric": "cpu",
            "window_days": 30,
            "origin_date": pd.Timestamp("2024-01-01"),
            "max_forecast_p95_pct": [85.0, 85.0, 70.0, 70.0],
        }
    )
    truth = pd.DataFrame(
        {
            "server_id": ["a", "b", "c", "d"],
            "metric": "cpu",
            # a crosses in time, b only after the window, c crosses unflagged, d never
            "first_cross_80_date": pd.to_datetime(["2024-01-10", "2024-03-01", "2024-01-05", None]),
            "first_cross_90_date": pd.to_datetime([None, None, None, None]),
        }
    )
    scores = score_against_truth(risk, truth).set_index("threshold_pct")
    at80 = scores.loc[80.0]
    counts = (at80.true_positives, at80.false_positives, at80.false_negatives, at80.true_negatives)
    assert counts == (1, 1, 1, 1)
    assert at80.precision == 0.5 and at80.recall == 0.5
    assert scores.loc[90.0].true_negatives == 4 and pd.isna(scores.loc[90.0].precision)
