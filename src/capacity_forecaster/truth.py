"""Score the risk marts' flags against the generator's hidden future (`--future-days`).

A series (server x metric) is flagged for a class in a window when fct_capacity_risk says so:
high = risk_class in (high_risk, very_high_risk), very high = risk_class = very_high_risk. It
truly breaches when some future day's daily P95 (truth_root/future_daily_p95.parquet) within
`window_days` of the origin exceeds the threshold the marts resolved for that series
(per archetype x metric, carried on the fct_capacity_risk row). Series already above the
threshold on some day of the last week of history are scored apart from the rest: for them a
flag is no early warning.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

RECENT_DAYS = 7  # "already breaching": above the threshold on a day of the last week
CLASSES: dict[str, tuple[str, tuple[str, ...]]] = {  # threshold column, flagging risk classes
    "high_risk": ("high_risk_threshold_pct", ("high_risk", "very_high_risk")),
    "very_high_risk": ("very_high_risk_threshold_pct", ("very_high_risk",)),
}
POPULATIONS = ("all", "new_breach", "already_breaching")
KEY = ["server_id", "metric"]


def _first_above(future: pd.DataFrame, series: pd.DataFrame, threshold: str, window: pd.Series) -> pd.Series:
    """Per row of `series`: the first future date within the window above its threshold."""
    joined = future.merge(series[[*KEY, "origin_date", threshold, "_row"]], on=KEY)
    ahead = (joined["metric_date"] - joined["origin_date"]).dt.days
    inside = (ahead >= 1) & (ahead <= joined["_row"].map(window)) & (joined["p95_pct"] > joined[threshold])
    return joined[inside].groupby("_row")["metric_date"].min()


def label_series(
    capacity_risk: pd.DataFrame, future_daily: pd.DataFrame, recent_daily: pd.DataFrame
) -> pd.DataFrame:
    """One row per series x window x class: flagged?, breaching in the last week?, truly
    breached within the window?, first true breach date, lead time.

    capacity_risk: server_id, metric, window_days, origin_date, risk_class and the threshold
    columns (fct_capacity_risk). future_daily: server_id, metric, metric_date, p95_pct (the
    truth). recent_daily: server_id, metric, metric_date, p95_pct of the history
    (fct_server_daily_metrics, trusted days). Series without any future day are left out.
    """
    risk = capacity_risk.copy()
    risk["origin_date"] = pd.to_datetime(risk["origin_date"])
    future = future_daily.assign(metric_date=pd.to_datetime(future_daily["metric_date"]))
    recent = recent_daily.assign(metric_date=pd.to_datetime(recent_daily["metric_date"]))
    risk = risk.merge(future[KEY].drop_duplicates(), on=KEY)
    risk["_row"] = np.arange(len(risk))
    window = risk.set_index("_row")["window_days"]
    rows = []
    for name, (threshold, flagging) in CLASSES.items():
        first = _first_above(future, risk, threshold, window)
        last_week = recent.merge(risk[[*KEY, "origin_date", threshold, "_row"]], on=KEY)
        back = (last_week["origin_date"] - last_week["metric_date"]).dt.days
        above = (back >= 0) & (back < RECENT_DAYS) & (last_week["p95_pct"] > last_week[threshold])
        breaching = last_week[above]["_row"].unique()
        out = risk[[*KEY, "window_days", "origin_date", "risk_class", "_row"]].copy()
        out["risk_class_scored"] = name
        out["threshold_pct"] = risk[threshold].to_numpy()
        out["is_flagged"] = risk["risk_class"].isin(flagging).to_numpy()
        out["is_breaching_in_last_week"] = out["_row"].isin(breaching)
        out["first_true_breach_date"] = out["_row"].map(first)
        out["did_breach"] = out["first_true_breach_date"].notna()
        out["lead_time_days"] = (out["first_true_breach_date"] - out["origin_date"]).dt.days
        if "risk_state" in risk.columns:
            out["risk_state"] = risk["risk_state"].to_numpy()
        rows.append(out.drop(columns="_row"))
    return pd.concat(rows, ignore_index=True)


def score(labelled: pd.DataFrame) -> pd.DataFrame:
    """Precision, recall and median lead time per population x class x window."""
    populations = {
        "all": labelled,
        "new_breach": labelled[~labelled["is_breaching_in_last_week"]],
        "already_breaching": labelled[labelled["is_breaching_in_last_week"]],
    }
    rows = []
    for population, frame in populations.items():
        for (name, window), group in frame.groupby(["risk_class_scored", "window_days"]):
            flagged, actual = group["is_flagged"], group["did_breach"]
            tp, fp = int((flagged & actual).sum()), int((flagged & ~actual).sum())
            fn, tn = int((~flagged & actual).sum()), int((~flagged & ~actual).sum())
            lead = group.loc[flagged & actual, "lead_time_days"]
            rows.append(
                {
                    "population": population,
                    "risk_class": name,
                    "window_days": int(window),
                    "series": len(group),
                    "true_positives": tp,
                    "false_positives": fp,
                    "false_negatives": fn,
                    "true_negatives": tn,
                    "precision": tp / (tp + fp) if tp + fp else None,
                    "recall": tp / (tp + fn) if tp + fn else None,
                    "median_lead_time_days": float(lead.median()) if len(lead) else None,
                }
            )
    return pd.DataFrame(rows)


def risk_state_counts(labelled: pd.DataFrame) -> pd.DataFrame | None:
    """Where the marts carry `risk_state`: series per state x class x window, and how many
    of them were above the threshold last week or truly breach in the window."""
    if "risk_state" not in labelled.columns:
        return None
    return (
        labelled.groupby(["risk_class_scored", "window_days", "risk_state"], dropna=False)
        .agg(
            series=("server_id", "size"),
            breaching_in_last_week=("is_breaching_in_last_week", "sum"),
            truly_breach_in_window=("did_breach", "sum"),
        )
        .reset_index()
    )


def load_future_daily(truth_root: Path) -> pd.DataFrame:
    path = truth_root / "future_daily_p95.parquet"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: generate with --future-days N first")
    return pd.read_parquet(path)
