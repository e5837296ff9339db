"""Score the risk flags against the generator's hidden future (`--future-days`).

A flag for threshold T in a window of W days means: the champion forecast of daily P95
exceeds T on some day within W days of the origin. The truth says whether the simulated
future's daily P95 really exceeded T within W days (server_truth.parquet,
first_cross_<T>_date). Scored at the generator's thresholds, per metric x server.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def score_against_truth(
    capacity_risk: pd.DataFrame, truth: pd.DataFrame, thresholds: tuple[float, ...] = (80.0, 90.0)
) -> pd.DataFrame:
    rows = []
    for window, risk in capacity_risk.groupby("window_days"):
        merged = risk.merge(truth, on=["server_id", "metric"], how="inner")
        if merged.empty:
            continue
        origin = pd.to_datetime(merged["origin_date"])
        for threshold in thresholds:
            crossed = pd.to_datetime(merged[f"first_cross_{int(threshold)}_date"])
            actual = crossed.notna() & ((crossed - origin).dt.days <= window)
            flagged = merged["max_forecast_p95_pct"] > threshold
            tp, fp = int((flagged & actual).sum()), int((flagged & ~actual).sum())
            fn, tn = int((~flagged & actual).sum()), int((~flagged & ~actual).sum())
            rows.append(
                {
                    "threshold_pct": threshold,
                    "window_days": int(window),
                    "series": len(merged),
                    "true_positives": tp,
                    "false_positives": fp,
                    "false_negatives": fn,
                    "true_negatives": tn,
                    "precision": tp / (tp + fp) if tp + fp else None,
                    "recall": tp / (tp + fn) if tp + fn else None,
                }
            )
    return pd.DataFrame(rows)


def load_truth(truth_root: Path) -> pd.DataFrame:
    path = truth_root / "server_truth.parquet"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: generate with --future-days N first")
    return pd.read_parquet(path)
