"""Import benchmark: `capfc import csv` on a >= 8 M-row 5-minute wide export vs one plain
DuckDB query doing the same hourly-P95 aggregation on the same file, side by side in one run;
and the one-command import of the shared real data set from its raw columns (Parquet).

    .venv/bin/python bench/bench_import.py                 # writes bench/results/import.json
    .venv/bin/python bench/bench_import.py --repeats 3

The CSV is the history part (before 2013-08-31 00:00 UTC) of ../shared/data's 250 VMs, twice
with renamed ids (a-vm-001, b-vm-001, ...): 8,182,870 rows, 500 servers. Import and plain
query alternate `repeats` times; every run is its own child process (wall seconds, CPU
seconds, peak RSS = the child's ru_maxrss). Targets: import <= 2x the plain query's time,
<= 2 GB peak RSS. Numbers are for the machine they ran on (recorded), never asserted in tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT / "bench" / "results"
WORK = Path(os.environ.get("CAPFC_BENCH_WORK", PROJECT / "bench" / ".work")) / "import"
SHARED = PROJECT / ".." / "shared" / "data" / "bitbrains_rnd_odd_vms_5min.parquet"
BIN = Path(sys.executable).parent
HISTORY_END = "2013-08-31"
# the raw columns of the shared data set -> the contract, in percent of a capacity
RAW_COLUMNS = [
    "--layout", "wide", "--timestamp-column", "timestamp_s", "--timestamp-format", "epoch-s",
    "--server-column", "vm_id",
    "--metric", "cpu=cpu_usage_mhz", "--unit", "cpu=MHz", "--capacity", "cpu=cpu_capacity_mhz",
    "--metric", "memory=memory_usage_kb", "--unit", "memory=KB", "--capacity", "memory=memory_capacity_kb",
    "--metric", "disk_io=disk_read_kbps+disk_write_kbps", "--unit", "disk_io=KB/s",
    "--capacity", "disk_io=500MB/s",
    "--metric", "network=network_rx_kbps+network_tx_kbps", "--unit", "network=KB/s",
    "--capacity", "network=1Gbit/s",
]  # fmt: skip
# The same aggregation as one plain query: per sample percent of the same capacities, hourly
# P95 (quantile_cont), written to one Parquet file. No checks, no dedup, no partitioning.
PLAIN_QUERY = """
import sys, duckdb
con = duckdb.connect()
con.execute("set TimeZone = 'UTC'")
con.execute("set enable_progress_bar = false")
con.execute(f'''copy (
    select vm_id as server_id,
        date_trunc('hour', make_timestamp(cast(timestamp_s * 1000000 as bigint))) as hour,
        quantile_cont(cpu_usage_mhz / nullif(cpu_capacity_mhz, 0) * 100, 0.95) as cpu_p95,
        quantile_cont(memory_usage_kb / nullif(memory_capacity_kb, 0) * 100, 0.95) as memory_p95,
        quantile_cont((disk_read_kbps + disk_write_kbps) * 1000 / 500e6 * 100, 0.95) as disk_io_p95,
        quantile_cont((network_rx_kbps + network_tx_kbps) * 1000 / 125e6 * 100, 0.95) as network_p95
    from read_csv('{sys.argv[1]}', header = true) group by all
) to '{sys.argv[2]}' (format parquet)''')
print(con.sql(f"select count(*) from '{sys.argv[2]}'").fetchone()[0])
"""


def run(command: list[str]) -> dict:
    """A child process: wall seconds, CPU seconds (user + system) and peak RSS (ru_maxrss)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{output[-4000:]}")
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "output": output.strip().splitlines(),
    }


BUILD_CSV = """
import sys, duckdb
shared, path, history_end = sys.argv[1:]
duckdb.execute("set enable_progress_bar = false")
duckdb.execute(
    f"copy (select copy || vm_id as vm_id, * exclude (vm_id, copy) "
    f"from read_parquet('{shared}'), (values ('a-'), ('b-')) as copies(copy) "
    f"where timestamp_s < epoch(timestamp '{history_end}') order by copy, vm_id, timestamp_s) "
    f"to '{path}' (header)"
)
"""
COUNT_CSV = """
import sys, duckdb
duckdb.execute("set enable_progress_bar = false")
print(*duckdb.sql(f"select count(*), count(distinct vm_id) from read_csv('{sys.argv[1]}')").fetchone())
"""


def build_csv(path: Path) -> dict:
    """In child processes: a big parent would inflate every child's ru_maxrss (Linux keeps the
    parent's high-water mark across fork + exec)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-c", BUILD_CSV, str(SHARED), str(path), HISTORY_END], check=True)
    count = subprocess.run(
        [sys.executable, "-c", COUNT_CSV, str(path)], check=True, capture_output=True, text=True
    )
    rows, servers = map(int, count.stdout.split())
    return {
        "path": str(path.relative_to(PROJECT)),
        "rows": rows,
        "servers": servers,
        "mb": round(path.stat().st_size / 1e6, 1),
    }


def capfc_import(fmt: str, source: Path, raw: Path, *extra: str) -> list[str]:
    shutil.rmtree(raw, ignore_errors=True)
    return [str(BIN / "capfc"), "import", fmt, str(source), *RAW_COLUMNS, *extra, "--raw-root", str(raw)]


def display(command: list[str]) -> str:
    return " ".join(
        c.replace(str(PROJECT) + "/", "").replace(str(BIN) + "/", ".venv/bin/") if "/" in c else c
        for c in command
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    csv = WORK / "bitbrains_history_x2_wide.csv"
    source = build_csv(csv)
    load_before = os.getloadavg()

    runs: dict[str, list[dict]] = {"import": [], "plain_query": []}
    for _ in range(args.repeats):  # alternate, so both see the same machine load
        runs["import"].append(run(capfc_import("csv", csv, WORK / "raw_csv")))
        runs["plain_query"].append(
            run([sys.executable, "-c", PLAIN_QUERY, str(csv), str(WORK / "plain.parquet")])
        )
    median = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    median_cpu = {k: statistics.median(r["cpu_seconds"] for r in v) for k, v in runs.items()}
    peak = {k: max(r["peak_rss_mb"] for r in v) for k, v in runs.items()}

    parquet_history = run(capfc_import("parquet", SHARED, WORK / "raw_parquet", "--end", HISTORY_END))
    parquet_full = run(capfc_import("parquet", SHARED, WORK / "raw_parquet_full"))
    load_after = os.getloadavg()

    result = {
        "command": "python bench/bench_import.py"
        + (f" --repeats {args.repeats}" if args.repeats != 3 else ""),
        "machine": {
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
            "note": "shared machine (other developers' jobs running); import and plain query alternate "
            "so both see the same load; CPU seconds are less sensitive to the load than wall seconds",
        },
        "csv": source,
        "csv_import": {
            "command": display(capfc_import("csv", csv, WORK / "raw_csv")),
            "runs": [{k: v for k, v in r.items() if k != "output"} for r in runs["import"]],
            "output": runs["import"][-1]["output"],
        },
        "plain_duckdb_query": {
            "command": f"python -c PLAIN_QUERY {source['path']} plain.parquet",
            "query": " ".join(PLAIN_QUERY.split()),
            "runs": [{k: v for k, v in r.items() if k != "output"} for r in runs["plain_query"]],
            "hourly_rows": int(runs["plain_query"][-1]["output"][-1]),
        },
        "comparison": {
            "median_seconds": median,
            "median_cpu_seconds": median_cpu,
            "import_over_plain_wall": round(median["import"] / median["plain_query"], 2),
            "import_over_plain_cpu": round(median_cpu["import"] / median_cpu["plain_query"], 2),
            "import_peak_rss_mb": peak["import"],
            "plain_peak_rss_mb": peak["plain_query"],
            "target": "import <= 2x the plain query's time, <= 2048 MB peak RSS",
            "meets_time_target": median["import"] <= 2 * median["plain_query"],
            "meets_memory_target": peak["import"] <= 2048,
        },
        "shared_parquet_history_import": {
            "command": display(capfc_import("parquet", SHARED, WORK / "raw_parquet", "--end", HISTORY_END)),
            **{k: v for k, v in parquet_history.items()},
        },
        "shared_parquet_full_import": {
            "command": display(capfc_import("parquet", SHARED, WORK / "raw_parquet_full")),
            **{k: v for k, v in parquet_full.items()},
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "import.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["comparison"], indent=2))


if __name__ == "__main__":
    main()
