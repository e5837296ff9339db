"""Risk flags of the marts against the generator's hidden future.

    .venv/bin/python bench/score_risk_truth.py [warehouse.duckdb] [truth_root]

Defaults: the published warehouse and var truth_root. Flags and the resolved thresholds come
from main_marts.fct_capacity_risk, the last week of history from fct_server_daily_metrics,
the truth from truth_root/future_daily_p95.parquet (trusted days: hours present >= var
min_daily_coverage x 24). Scoring: capacity_forecaster.truth. Writes
bench/results/risk_truth.json.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import duckdb
import pandas as pd

from capacity_forecaster.config import find_project_dir, load_vars
from capacity_forecaster.truth import RECENT_DAYS, label_series, load_future_daily, risk_state_counts, score


def main() -> int:
    project = find_project_dir(Path(__file__).parent)
    cfg = load_vars(project)
    database = sys.argv[1] if len(sys.argv) > 1 else str(project / "warehouse" / "capacity_forecaster.duckdb")
    truth_root = Path(sys.argv[2]) if len(sys.argv) > 2 else project / cfg["truth_root"]
    future = load_future_daily(truth_root)
    future = future[future["hours_present"] >= cfg["min_daily_coverage"] * 24]
    with duckdb.connect(database, read_only=True) as con:
        risk = con.sql("select * from main_marts.fct_capacity_risk").df()
        recent = con.sql(f"""
            select server_id, metric, metric_date, p95_pct
            from main_marts.fct_server_daily_metrics
            where not is_low_coverage
              and metric_date > (select max(origin_date) from main_marts.fct_capacity_risk)
                                - interval {RECENT_DAYS} day
        """).df()
        backtest = con.sql("select * from main_marts.fct_risk_backtest order by all").df()
    labelled = label_series(risk, future, recent)
    truth_days = (
        pd.to_datetime(future["metric_date"]).max() - pd.to_datetime(risk["origin_date"]).max()
    ).days
    states = risk_state_counts(labelled)
    thresholds = risk[["archetype", "metric", "high_risk_threshold_pct", "very_high_risk_threshold_pct"]]
    result = {
        "command": "python bench/score_risk_truth.py " + " ".join(sys.argv[1:]),
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "origin_date": str(risk["origin_date"].max()),
        "truth_days_after_origin": int(truth_days),
        "note": (
            "flags: high = risk_class in (high_risk, very_high_risk), very high = very_high_risk; "
            "thresholds per archetype x metric as resolved by the marts; new_breach = not above "
            f"the threshold on any trusted day of the last {RECENT_DAYS} days of history"
        ),
        "thresholds_used": thresholds.drop_duplicates()
        .sort_values(["archetype", "metric"])
        .to_dict("records"),
        "against_hidden_future": score(labelled).to_dict(orient="records"),
        "risk_state_counts": None if states is None else states.to_dict(orient="records"),
        "risk_backtest_mart": backtest.to_dict(orient="records"),
    }
    if truth_days < labelled["window_days"].max():
        result["warning"] = f"the truth covers {truth_days} days: longer windows are scored on that"
    out = project / "bench" / "results" / "risk_truth.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps(result["against_hidden_future"], indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
