"""Precision / recall of the risk flags against the generator's hidden future.

    .venv/bin/python bench/score_risk_truth.py [warehouse.duckdb] [truth_root]

Defaults: the published warehouse and var truth_root. Writes bench/results/risk_truth.json.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import duckdb

from capacity_forecaster.config import find_project_dir, load_vars
from capacity_forecaster.truth import load_truth, score_against_truth

project = find_project_dir(Path(__file__).parent)
cfg = load_vars(project)
database = sys.argv[1] if len(sys.argv) > 1 else str(project / "warehouse" / "capacity_forecaster.duckdb")
truth_root = Path(sys.argv[2]) if len(sys.argv) > 2 else project / cfg["truth_root"]
with duckdb.connect(database, read_only=True) as con:
    risk = con.sql("select * from main_marts.fct_capacity_risk").df()
    backtest = con.sql("select * from main_marts.fct_risk_backtest order by 1, 2").df()
scores = score_against_truth(
    risk, load_truth(truth_root), (cfg["high_risk_threshold"], cfg["very_high_risk_threshold"])
)
result = {
    "command": "python bench/score_risk_truth.py " + " ".join(sys.argv[1:]),
    "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    "against_hidden_future": scores.to_dict(orient="records"),
    "risk_backtest_mart": backtest.to_dict(orient="records"),
}
out = project / "bench" / "results" / "risk_truth.json"
out.write_text(json.dumps(result, indent=2, default=str) + "\n")
print(json.dumps(result, indent=2, default=str))
