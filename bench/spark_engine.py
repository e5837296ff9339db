"""The forecasting Python models' work with the local engine and with Spark local[2] on the
same machine and the same warehouse: the Spark overhead, per-series costs per model family,
and whether the forecasts are identical. Writes bench/results/spark_engine.json.

    .venv/bin/python bench/spark_engine.py --servers 1000          # the issue's fleet
    .venv/bin/python bench/spark_engine.py --servers 250           # bounded: extrapolate

The fleet is generated once (`capfc generate --servers N --start 2022-01-01 --days 1461
--future-days 0 --raw-root bench/.work/spark_N/raw`) and its warehouse built once (dbt, up to
the features); each engine then runs in its own child process, family after family: backtest
with leave-one-origin-out intervals, CV, final fit, scoring (what the four forecasting models
do). The machine is shared: the load average is recorded around every run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run_bench import DAYS, RESULTS, WORK, dbt_run, generate, machine  # noqa: E402

FAMILIES = {
    "baselines": ["seasonal_naive", "last_value", "moving_average"],
    "global_hgb": ["global_hgb"],
    "random_forest": ["random_forest"],
    "gradient_boosting": ["gradient_boosting"],
    "prophet": ["prophet"],
}
MASTER = "local[2]"
CORES = 2
RETRAIN_SECONDS = 30 * 60
FLEETS = (10_000, 100_000)
METRICS = 4


def settings_n_jobs() -> int:
    from capacity_forecaster.config import find_project_dir, load_vars

    return int(load_vars(find_project_dir())["forecast_n_jobs"])


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def cpu() -> float:
    """CPU seconds of this process (all threads) and its reaped children (CmdStan runs):
    unlike wall time, hardly moved by other users of a shared machine."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def prophet_fit_cpu(panel, settings, count: int = 24) -> float:
    """CPU seconds of one Prophet fit + forecast at the final origin, sequential in-process."""
    import numpy as np

    from capacity_forecaster.forecasting.backtest import supported_horizon
    from capacity_forecaster.forecasting.prophet_model import prophet_forecast

    origin = panel.origin_index()
    live = np.flatnonzero(panel.observed_days(origin) > 0)[:count]
    started = cpu()
    prophet_forecast(
        panel,
        origin,
        supported_horizon(panel, settings),
        live,
        settings.params("prophet"),
        settings.interval_levels,
        1,
    )
    return (cpu() - started) / max(1, live.size)


# --- child: one engine, every family ---------------------------------------------------------


def child(database: str, engine: str, families: list[str], out_dir: Path) -> dict:
    import numpy as np
    from forecast_family import load_panel, settings_for

    from capacity_forecaster import engines
    from capacity_forecaster.forecasting.backtest import run_backtest, run_cv, score, train_final
    from capacity_forecaster.forecasting.intervals import leave_one_origin_out

    panel = load_panel(database)
    quiet = lambda _: None  # noqa: E731
    result: dict = {"engine": engine, "series": int(panel.n_series), "families": {}}
    if engine == "spark":
        started = time.perf_counter()
        engines.engine_for(
            dataclasses.replace(settings_for(["moving_average"]), engine="spark", spark_master=MASTER)
        )
        result["session_start_seconds"] = round(time.perf_counter() - started, 1)
    for family in families:
        settings = dataclasses.replace(
            settings_for(FAMILIES[family]),
            engine=engine,
            spark_master=MASTER if engine == "spark" else None,
        )
        cv_models = [m for m in FAMILIES[family] if m in ("seasonal_naive", "moving_average", "global_hgb")]
        timings, load_before = {}, load()
        steps = {
            "backtest": lambda s=settings: leave_one_origin_out(
                run_backtest(panel, s, quiet), s.interval_levels
            ),
            "cv": lambda s=settings, m=cv_models: run_cv(panel, s, m, quiet),
            "train": lambda s=settings: train_final(panel, s, quiet),
        }
        outputs = {}
        for step, run in [*steps.items(), ("score", None)]:
            started, cpu_started = time.perf_counter(), cpu()
            outputs[step] = run() if run else score(panel, outputs["train"], settings)
            timings[f"{step}_seconds"] = time.perf_counter() - started
            timings[f"{step}_cpu_seconds"] = cpu() - cpu_started
        backtest, trained, scored = outputs["backtest"], outputs["train"], outputs["score"]
        timings["total_seconds"] = sum(v for k, v in timings.items() if not k.endswith("cpu_seconds"))
        timings["total_cpu_seconds"] = sum(v for k, v in timings.items() if k.endswith("_cpu_seconds"))
        entry = {k: round(v, 2) for k, v in timings.items()}
        entry["load_before"], entry["load_after"] = load_before, load()
        if family == "prophet":
            fitted = int(backtest[backtest.model == "prophet"].groupby(["server_id", "metric"]).ngroups)
            entry["prophet_backtest_series"] = fitted
            entry["prophet_final_fits"] = int(np.isfinite(trained.prophet["yhat"][:, 0]).sum())
            if engine == "local":  # joblib's workers are not this process's reaped children
                entry["prophet_fit_cpu_seconds"] = round(prophet_fit_cpu(panel, settings), 3)
        result["families"][family] = entry
        for name, frame in (("backtest", backtest), ("scored", scored)):
            frame.drop(columns=[c for c in frame if c == "trained_at"]).to_parquet(
                out_dir / f"{engine}_{family}_{name}.parquet"
            )
        print(f"{engine} {family}: {entry['total_seconds']}s", file=sys.stderr, flush=True)
    engines.stop_engines()
    return result


# --- parent ----------------------------------------------------------------------------------


def run_child(database: Path, engine: str, families: list[str], out_dir: Path) -> dict:
    command = [sys.executable, __file__, "--child", str(database), engine, str(out_dir), *families]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{engine} run failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = round(time.perf_counter() - started, 1)
    return result


def compare(out_dir: Path, family: str) -> dict:
    """Local vs Spark forecasts of one family: identical, or how far apart. Expected apart:
    Prophet (its intervals sample from numpy's unseeded global state) and, with
    forecast_n_jobs > 1, random_forest (scikit-learn sums its trees' predictions in
    thread-completion order: last-bit differences, as between two local runs; README
    "Forecasting at scale: Spark")."""
    import numpy as np
    import pandas as pd

    out = {}
    for name in ("backtest", "scored"):
        keys = ["model", "server_id", "metric", "origin_date", "horizon_days"]
        local = pd.read_parquet(out_dir / f"local_{family}_{name}.parquet").sort_values(keys)
        spark = pd.read_parquet(out_dir / f"spark_{family}_{name}.parquet").sort_values(keys)
        local, spark = local.reset_index(drop=True), spark.reset_index(drop=True)
        try:
            pd.testing.assert_frame_equal(local, spark, check_exact=True)
            out[name] = {"identical": True, "rows": len(local)}
        except AssertionError:
            same_rows = len(local) == len(spark) and (local[keys] == spark[keys]).all().all()
            diff = np.abs(local["yhat_pct"] - spark["yhat_pct"]) if same_rows else None
            out[name] = {
                "identical": False,
                "rows": [len(local), len(spark)],
                "max_abs_yhat_diff_pct": None if diff is None else float(diff.max()),
            }
    return out


def arithmetic(local: dict, spark: dict) -> dict:
    """Core-seconds of one weekly run (all four forecasting models) and the cores a fleet
    needs to finish it in RETRAIN_SECONDS, from CPU seconds (not wall: the machine is shared).

    Grows with the series: Prophet's final fit (one per series), the baselines, and every
    scoring pass of the trees (backtest origins + CV folds + final). Fixed: the tree fits
    (rows capped by max_train_rows_*), Prophet's backtest (a fixed sample of servers). Spark's
    own cost at local[2] is mostly per job (about 60 jobs a run, whatever the fleet), so it is
    added as wall seconds, not scaled."""
    import numpy as np

    from capacity_forecaster.config import find_project_dir, load_vars

    cfg = load_vars(find_project_dir())
    series = local["series"]
    per_series, fixed = {}, {}
    for family, t in local["families"].items():
        if family == "prophet":
            fit = t["prophet_fit_cpu_seconds"]
            per_series[family] = fit
            fixed[family] = fit * t["prophet_backtest_series"] * cfg["backtest_origins"]
        elif family == "baselines":
            per_series[family] = t["total_cpu_seconds"] / series
            fixed[family] = 0.0
        else:
            passes = cfg["backtest_origins"] + 1 + (cfg["cv_folds"] if family in cfg["cv_models"] else 0)
            per_series[family] = t["score_cpu_seconds"] * passes / series
            fixed[family] = max(0.0, t["total_cpu_seconds"] - t["score_cpu_seconds"] * passes)
    common = [f for f in local["families"] if f in spark["families"]]
    wall_local = sum(local["families"][f]["total_seconds"] for f in common)
    wall_spark = sum(spark["families"][f]["total_seconds"] for f in common)
    overhead = max(0.0, wall_spark - wall_local)
    fleets = {}
    for servers in FLEETS:
        n = servers * METRICS
        core_seconds = sum(per_series.values()) * n + sum(fixed.values())
        fleets[str(servers)] = {
            "series": n,
            "core_seconds": round(core_seconds),
            "cores_for_30_min": int(np.ceil(core_seconds / (RETRAIN_SECONDS - overhead))),
        }
    return {
        "measured_series": series,
        "per_series_core_seconds": {k: round(v, 4) for k, v in per_series.items()},
        "fixed_core_seconds": {k: round(v, 1) for k, v in fixed.items()},
        "wall_seconds_local_vs_spark": {
            f: [local["families"][f]["total_seconds"], spark["families"][f]["total_seconds"]] for f in common
        },
        "spark_overhead_wall_seconds": round(overhead, 1),
        "fleets": fleets,
        "formula": "cores = ceil((per-series core-s x series + fixed core-s) / (1800 s - Spark overhead))",
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        database, engine, out_dir, *families = sys.argv[2:]
        print(json.dumps(child(database, engine, families, Path(out_dir))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--rebuild", action="store_true", help="generate and build the warehouse again")
    args = parser.parse_args()
    work = WORK / f"spark_{args.servers}"
    database = work / "bench.duckdb"
    prepared: dict = {}
    if args.rebuild or not database.exists():
        work.mkdir(parents=True, exist_ok=True)
        prepared["generate"] = generate(args.servers, work / "raw", DAYS)
        prepared["warehouse_build"] = dbt_run(work, work / "raw", full_refresh=True)
    out_dir = work / "forecasts"
    out_dir.mkdir(exist_ok=True)
    runs = {"load_at_start": load()}
    for engine in ("local", "spark"):
        runs[engine] = run_child(database, engine, args.families, out_dir)
    runs["load_at_end"] = load()
    payload = {
        "command": "python bench/spark_engine.py " + " ".join(sys.argv[1:]),
        "machine": {**machine(), "load_average_1_5_15_min": load()},
        "servers": args.servers,
        "days": DAYS,
        "spark_master": MASTER,
        "forecast_n_jobs": settings_n_jobs(),
        "prepared": prepared,
        "runs": runs,
        "equality": {f: compare(out_dir, f) for f in args.families},
        "capacity": arithmetic(runs["local"], runs["spark"]),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "spark_engine.json").write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
