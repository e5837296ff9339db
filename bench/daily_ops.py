"""Daily operations: a cold build (trains), a daily build with one new day (reuses the stored
run: scores only), and the same day with `--retrain` (refits and re-backtests), each through
the real CLI in its own process, with wall time, peak RSS, the cadence decisions and the flag
churn between the cold and the daily build. Results: bench/results/daily_ops.json.

    .venv/bin/python bench/daily_ops.py                      # the README's default fleet
    .venv/bin/python bench/daily_ops.py --servers 40 --days 400

Wall-clock numbers are for the machine they ran on (recorded with its load), never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_bench import BIN, PROJECT, RESULTS, measured

WORK = Path(os.environ.get("CAPFC_BENCH_WORK", PROJECT / "bench" / ".work")) / "daily_ops"


def _env(work: Path) -> dict[str, str]:
    return {
        "CAPFC_WAREHOUSE_DIR": str(work / "warehouse"),
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def _state(work: Path) -> dict:
    with duckdb.connect(str(work / "warehouse" / "capacity_forecaster.duckdb"), read_only=True) as con:
        decisions = con.sql("""
            select component, decision, reason, run_id from main_marts.fct_training_decisions
            qualify row_number() over (partition by component order by decision_id desc) = 1
            order by component
        """).fetchall()
        flags = con.sql("select server_id, metric, window_days, risk_state from main_marts.fct_capacity_risk")
        flag_rows = {(s, m, w): state for s, m, w, state in flags.fetchall()}
        origin = con.sql("select max(origin_date) from main_marts.fct_champion_forecasts").fetchone()[0]
    return {
        "origin_date": str(origin),
        "decisions": [{"component": c, "decision": d, "reason": r, "run_id": i} for c, d, r, i in decisions],
        "_flags": flag_rows,
    }


def _churn(before: dict, after: dict) -> dict:
    keys = before.keys() & after.keys()
    changed = sum(before[k] != after[k] for k in keys)
    return {
        "server_metric_window_rows": len(keys),
        "changed": changed,
        "share": round(changed / len(keys), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--servers", type=int, default=120)
    parser.add_argument("--days", type=int, default=1461)
    args = parser.parse_args()
    if WORK.exists():
        shutil.rmtree(WORK)
    raw, held = WORK / "raw", WORK / "held_back"
    start = dt.date.today() - dt.timedelta(days=args.days)
    generated = measured(
        [
            str(BIN / "capfc"),
            "generate",
            "--servers",
            str(args.servers),
            "--days",
            str(args.days),
            "--start",
            start.isoformat(),
            "--raw-root",
            str(raw),
        ],
        _env(WORK),
    )
    newest = sorted((raw / "metrics").iterdir())[-1]
    held.mkdir(parents=True)
    shutil.move(newest, held / newest.name)
    build = [str(BIN / "capfc"), "build", "--raw-root", str(raw)]
    steps = {}
    steps["cold"] = {**measured(build, _env(WORK)), **_state(WORK)}
    shutil.move(held / newest.name, raw / "metrics" / newest.name)
    steps["daily"] = {**measured(build, _env(WORK)), **_state(WORK)}
    churn = _churn(steps["cold"]["_flags"], steps["daily"]["_flags"])
    _write(args, generated, steps, churn)  # kept if the retrain step is interrupted
    steps["daily_retrain"] = {**measured([*build, "--retrain"], _env(WORK)), **_state(WORK)}
    print(json.dumps(_write(args, generated, steps, churn), indent=2, default=str))


def _write(args: argparse.Namespace, generated: dict, steps: dict, churn: dict) -> dict:
    steps = {name: {k: v for k, v in step.items() if k != "_flags"} for name, step in steps.items()}
    result = {
        "command": " ".join(
            ["python bench/daily_ops.py", f"--servers {args.servers}", f"--days {args.days}"]
        ),
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_1m_at_end": os.getloadavg()[0],
        },
        "fleet": {"servers": args.servers, "days": args.days, "generate": generated},
        "builds": steps,
        "flag_churn_cold_to_daily": churn,
        "note": "daily = one new day, stored run reused (scoring only); daily_retrain = the same day "
        "with --retrain. Builds are `capfc build` (dbt build + publish), without the report.",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "daily_ops.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result


if __name__ == "__main__":
    main()
