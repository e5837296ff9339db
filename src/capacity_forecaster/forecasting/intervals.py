"""Conformal prediction intervals from backtest residuals.

Residuals are scaled by each series' MASE denominator, so one quantile table serves quiet and
noisy servers alike: bound = yhat + q * scale. Quantiles are kept per model x metric x horizon
bucket (asymmetric: separate lower and upper quantiles), pooled over metrics when a group has
too few residuals. Coverage is measured leave-one-origin-out, so the interval at an origin
never uses that origin's own errors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

INTERVAL_BUCKETS = ((1, 7), (8, 14), (15, 30), (31, 60), (61, 366))
MIN_GROUP_ROWS = 50


def interval_bucket(horizon: np.ndarray | pd.Series) -> np.ndarray:
    h = np.asarray(horizon)
    out = np.zeros(h.shape, dtype=int)
    for i, (lo, _) in enumerate(INTERVAL_BUCKETS):
        out[h >= lo] = i
    return out


def level_tag(level: float) -> str:
    return str(round(level * 100))


def quantile_table(residuals: pd.DataFrame, levels: tuple[float, ...]) -> pd.DataFrame:
    """Scaled-residual quantiles per (model, metric, bucket), with a pooled fallback."""
    probs = sorted({p for lv in levels for p in ((1 - lv) / 2, (1 + lv) / 2)})
    frame = residuals.assign(
        bucket=interval_bucket(residuals["horizon_days"]),
        r=(residuals["actual_pct"] - residuals["yhat_pct"]) / residuals["scale"],
    )
    frame = frame[np.isfinite(frame["r"])]

    def table(keys: list[str]) -> pd.DataFrame:
        grouped = frame.groupby(keys)["r"]
        q = grouped.quantile(probs).unstack()
        q.columns = [f"q{p:.4f}" for p in probs]
        return q.assign(n=grouped.size()).reset_index()

    fine, pooled = table(["model", "metric", "bucket"]), table(["model", "bucket"])
    merged = fine.merge(pooled, on=["model", "bucket"], suffixes=("", "_pooled"))
    for column in [c for c in fine.columns if c.startswith("q")]:
        merged[column] = np.where(merged["n"] >= MIN_GROUP_ROWS, merged[column], merged[f"{column}_pooled"])
    return merged[["model", "metric", "bucket", *[c for c in fine.columns if c.startswith("q")]]]


def _extend_to_all_buckets(quantiles: pd.DataFrame, farthest_horizon: int) -> pd.DataFrame:
    """Buckets the backtest could not reach (short history) borrow the longest validated
    bucket's quantiles, widened by sqrt(horizon ratio) - and are flagged as extrapolated.
    A bucket's horizon is its middle, the open last bucket ending at the farthest forecast."""
    q_cols = [c for c in quantiles.columns if c.startswith("q")]
    mids = np.array([(lo + max(lo, min(hi, farthest_horizon))) / 2 for lo, hi in INTERVAL_BUCKETS])
    parts = [quantiles.assign(is_interval_extrapolated=False)]
    for (model, metric), group in quantiles.groupby(["model", "metric"]):
        longest = group.loc[group["bucket"].idxmax()]
        for bucket in range(int(longest["bucket"]) + 1, len(INTERVAL_BUCKETS)):
            widened = longest[q_cols] * np.sqrt(mids[bucket] / mids[int(longest["bucket"])])
            parts.append(
                pd.DataFrame(
                    [
                        {
                            "model": model,
                            "metric": metric,
                            "bucket": bucket,
                            **widened.to_dict(),
                            "is_interval_extrapolated": True,
                        }
                    ]
                )
            )
    return pd.concat(parts, ignore_index=True)


def apply_intervals(
    forecasts: pd.DataFrame, quantiles: pd.DataFrame, levels: tuple[float, ...]
) -> pd.DataFrame:
    """Add yhat_lower_/yhat_upper_<level>_pct columns (clipped to 0-100)."""
    frame = forecasts.assign(bucket=interval_bucket(forecasts["horizon_days"]))
    farthest = int(forecasts["horizon_days"].max()) if len(forecasts) else INTERVAL_BUCKETS[-1][0]
    extended = _extend_to_all_buckets(quantiles, farthest)
    frame = frame.merge(extended, on=["model", "metric", "bucket"], how="left")
    frame["is_interval_extrapolated"] = frame["is_interval_extrapolated"].fillna(True).astype(bool)
    for level in levels:
        lo, hi = f"q{(1 - level) / 2:.4f}", f"q{(1 + level) / 2:.4f}"
        tag = level_tag(level)
        frame[f"yhat_lower_{tag}_pct"] = np.clip(frame["yhat_pct"] + frame[lo] * frame["scale"], 0, 100)
        frame[f"yhat_upper_{tag}_pct"] = np.clip(frame["yhat_pct"] + frame[hi] * frame["scale"], 0, 100)
    return frame.drop(columns=[c for c in frame.columns if c.startswith("q0") or c == "bucket"])


def leave_one_origin_out(predictions: pd.DataFrame, levels: tuple[float, ...]) -> pd.DataFrame:
    """Backtest rows with conformal bounds computed from the *other* origins' residuals."""
    origins = predictions["origin_date"].unique()
    if len(origins) < 2:  # nothing to hold out: in-sample, and flagged as such
        return apply_intervals(predictions, quantile_table(predictions, levels), levels).assign(
            is_interval_in_sample=True
        )
    parts = []
    for origin in origins:
        held = predictions["origin_date"] == origin
        table = quantile_table(predictions[~held], levels)
        parts.append(apply_intervals(predictions[held], table, levels))
    return pd.concat(parts, ignore_index=True).assign(is_interval_in_sample=False)
