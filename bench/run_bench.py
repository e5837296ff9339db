"""Benchmarks: generator, warehouse (staging + daily facts + features), pandas baseline,
one incremental day, forecasting families (fit + backtest + score, accuracy).
Results go to bench/results/<section>.json.

    .venv/bin/python bench/run_bench.py                       # 120 and 1,000 servers
    .venv/bin/python bench/run_bench.py --servers 120 --sections generator

Every measured step runs in its own child process; peak RSS is that child's ru_maxrss.
Wall-clock numbers are for the machine they ran on (recorded), never asserted in tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT / "bench" / "results"
WORK = Path(os.environ.get("CAPFC_BENCH_WORK", PROJECT / "bench" / ".work"))
BIN = Path(sys.executable).parent
START = dt.date(2022, 1, 1)
DAYS = 1461
WAREHOUSE_MODELS = "+int_daily_features_computed int_hourly_profiles_aggregated int_measurements_quarantined"


def measured(command: list[str], env: dict[str, str] | None = None) -> dict:
    """Run a child process; return wall seconds and its peak RSS in MB."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=PROJECT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{output[-4000:]}")
    return {"seconds": round(elapsed, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def folder_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6, 1)


def generate(servers: int, raw: Path, days: int = DAYS) -> dict:
    if raw.exists():
        shutil.rmtree(raw)
    result = measured(
        [
            str(BIN / "capfc"),
            "generate",
            "--servers",
            str(servers),
            "--days",
            str(days),
            "--start",
            START.isoformat(),
            "--future-days",
            "0",
            "--raw-root",
            str(raw),
        ]
    )
    rows = sum(1 for _ in (raw / "metrics").iterdir())
    return {**result, "servers": servers, "days": days, "partitions": rows, "parquet_mb": folder_mb(raw)}


def dbt_env(work: Path) -> dict[str, str]:
    return {
        "CAPFC_DUCKDB_PATH": str(work / "bench.duckdb"),
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def dbt_run(work: Path, raw: Path, full_refresh: bool) -> dict:
    command = [
        str(BIN / "dbt"),
        "run",
        "--profiles-dir",
        "profiles",
        "--select",
        *WAREHOUSE_MODELS.split(),
        "--vars",
        json.dumps({"raw_root": str(raw)}),
    ]
    if full_refresh:
        command.append("--full-refresh")
    result = measured(command, dbt_env(work))
    run_results = json.loads((work / "target" / "run_results.json").read_text())
    result["models"] = {
        r["unique_id"].split(".")[-1]: round(r["execution_time"], 2) for r in run_results["results"]
    }
    result["models_total_seconds"] = round(sum(result["models"].values()), 2)
    return result


PANDAS_SCRIPT = """
import sys, json
from pathlib import Path
sys.path.insert(0, str(Path(sys.argv[2]) / "tests" / "python"))  # the reference lives beside its tests
from capacity_forecaster.config import load_vars
from pandas_reference import daily_from_raw, features_from_daily
cfg = load_vars(Path(sys.argv[2]))
daily = daily_from_raw(Path(sys.argv[1]), cfg["min_daily_coverage"])
features = features_from_daily(daily, cfg["feature_lags"], cfg["rolling_windows"])
print(json.dumps({"daily_rows": len(daily), "feature_rows": len(features)}))
"""


def bench_generator(sizes: list[int]) -> dict:
    return {str(n): generate(n, WORK / f"gen_{n}" / "raw") for n in sizes}


def bench_warehouse(sizes: list[int]) -> dict:
    out = {}
    for n in sizes:
        work = WORK / f"wh_{n}"
        shutil.rmtree(work, ignore_errors=True)
        raw = work / "raw"
        gen = generate(n, raw)
        partitions = sorted((raw / "metrics").iterdir())
        held = work / "held"
        held.mkdir()
        shutil.move(partitions[-1], held / partitions[-1].name)

        full = dbt_run(work, raw, full_refresh=True)
        shutil.move(held / partitions[-1].name, raw / "metrics" / partitions[-1].name)
        incremental = dbt_run(work, raw, full_refresh=False)
        pandas = measured([sys.executable, "-c", PANDAS_SCRIPT, str(raw), str(PROJECT)])
        out[str(n)] = {
            "hourly_rows": None,
            "generator": gen,
            "duckdb_full_build": full,
            "duckdb_incremental_one_day": incremental,
            "pandas_same_pipeline": pandas,
            "pandas_over_duckdb_ratio": round(pandas["seconds"] / full["seconds"], 2),
        }
        import duckdb

        with duckdb.connect(str(work / "bench.duckdb"), read_only=True) as con:
            out[str(n)]["hourly_rows"] = con.sql(
                f"select count(*) from read_parquet('{raw}/metrics/*/*.parquet')"
            ).fetchone()[0]
            out[str(n)]["duckdb_file_mb"] = round((work / "bench.duckdb").stat().st_size / 1e6, 1)
        shutil.rmtree(raw / "metrics")  # the inventory stays: stg_raw__servers is a view on it
    return out


FAMILIES = ("baselines", "global_hgb", "random_forest", "gradient_boosting", "prophet", "same-rows")


def bench_forecasting(sizes: list[int], families: list[str]) -> dict:
    """Needs the warehouse section's bench.duckdb for each size (run it first)."""
    out = {}
    for n in sizes:
        database = WORK / f"wh_{n}" / "bench.duckdb"
        if not database.exists():
            raise SystemExit(f"{database} missing: run --sections warehouse first")
        out[str(n)] = {}
        for family in families:
            command = [sys.executable, str(PROJECT / "bench" / "forecast_family.py"), str(database), family]
            started = time.perf_counter()
            process = subprocess.Popen(command, cwd=PROJECT, stdout=subprocess.PIPE, text=True)
            output = process.stdout.read()
            _, status, usage = os.wait4(process.pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                raise RuntimeError(f"{family} at {n} servers failed")
            result = json.loads(output.strip().splitlines()[-1])
            result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
            result["wall_seconds"] = round(time.perf_counter() - started, 1)
            out[str(n)][family] = result
            print(f"{n} servers, {family}: {result['wall_seconds']}s", file=sys.stderr, flush=True)
    return out


def machine() -> dict:
    return {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write(section: str, data: dict, command: str) -> None:
    """Merge into the section's file: results of other sizes / families are kept."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{section}.json"
    if path.exists():
        old = json.loads(path.read_text())
        merged = old.get("results", {})
        for size, value in data.items():
            merged[size] = (
                {**merged[size], **value}
                if isinstance(value, dict) and isinstance(merged.get(size), dict)
                else value
            )
        commands = [*old.get("commands", [old.get("command")]), command]
        data, command = merged, commands
    payload = {
        "commands" if isinstance(command, list) else "command": command,
        "machine": machine(),
        "results": data,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload, indent=2))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", type=int, nargs="+", default=[120, 1000])
    parser.add_argument(
        "--sections",
        nargs="+",
        default=["generator", "warehouse", "forecasting"],
        choices=["generator", "warehouse", "forecasting"],
    )
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    args = parser.parse_args()
    command = "python bench/run_bench.py " + " ".join(sys.argv[1:])
    WORK.mkdir(parents=True, exist_ok=True)
    if "generator" in args.sections:
        write("generator", bench_generator(args.servers), command)
    if "warehouse" in args.sections:
        write("warehouse", bench_warehouse(args.servers), command)
    if "forecasting" in args.sections:
        write("forecasting", bench_forecasting(args.servers, args.families), command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
