"""Size of the build file vs the published release across full rebuilds (issue 15: the
published file grew from 164 to 256 MiB after one rebuild when it was a plain copy).

    .venv/bin/python bench/publish_sizes.py --servers 30 --days 730 --rebuilds 3

Builds once, then rebuilds the same data `--rebuilds` times with `capfc build` (forecasting
included), recording after each build the build file, the release it published, and the time
the publish step took. Results: bench/results/publish.json.
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
WORK = Path(os.environ.get("CAPFC_BENCH_WORK", PROJECT / "bench" / ".work")) / "publish"
BIN = Path(sys.executable).parent


def capfc(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(BIN / "capfc"), *args], cwd=PROJECT, env={**os.environ, **env}, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"capfc {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=30)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--rebuilds", type=int, default=3)
    args = parser.parse_args()

    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    env = {
        "CAPFC_WAREHOUSE_DIR": str(WORK / "warehouse"),
        "DBT_TARGET_PATH": str(WORK / "target"),
        "DBT_LOG_PATH": str(WORK / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    raw = WORK / "raw"
    start = dt.date(2024, 1, 1)
    capfc(
        "generate",
        "--servers",
        str(args.servers),
        "--days",
        str(args.days),
        "--start",
        str(start),
        "--future-days",
        "0",
        "--raw-root",
        str(raw),
        env=env,
    )
    folder = WORK / "warehouse"
    builds = []
    for n in range(args.rebuilds + 1):
        started = time.perf_counter()
        capfc("build", "--raw-root", str(raw), env=env)
        seconds = time.perf_counter() - started
        release = (folder / "capacity_forecaster.duckdb").resolve()
        builds.append(
            {
                "build": "initial" if n == 0 else f"rebuild {n}",
                "build_file_mib": round(
                    (folder / "build" / "capacity_forecaster.duckdb").stat().st_size / 2**20, 1
                ),
                "release_file_mib": round(release.stat().st_size / 2**20, 1),
                "build_and_publish_seconds": round(seconds, 1),
            }
        )
        print(builds[-1], flush=True)
    result = {
        "command": f"python bench/publish_sizes.py --servers {args.servers} --days {args.days} "
        f"--rebuilds {args.rebuilds}",
        "machine": {
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "fleet": {"servers": args.servers, "days": args.days},
        "builds": builds,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "publish.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
