"""`capfc import prometheus` against a real Prometheus server (Debian's prometheus 2.42).

The test writes three days of node_exporter-shaped series for three fake instances as
OpenMetrics, backfills them with `promtool tsdb create-blocks-from openmetrics`, starts
Prometheus on 127.0.0.1 over that storage, imports through the HTTP API, and compares every
hourly P95 with values computed here from the same series.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import capfc, free_port

from capacity_forecaster.importers.errors import ImportInputError
from capacity_forecaster.importers.prometheus import PrometheusOptions, import_prometheus

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None or PROMTOOL is None,
    reason="Prometheus not installed (make test installs Debian's prometheus in CI)",
)
START = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
HOURS = 72
STEP = 60  # scrape interval, seconds
METRICS = ["cpu", "memory", "disk_io", "network"]
# instance -> (cpus, memory GiB, link speed bytes/s or None)
INSTANCES = {"web-1:9100": (2, 16, 125e6), "db-1:9100": (4, 32, 125e6), "batch-1:9100": (2, 8, None)}


@dataclass
class Truth:
    cpu_busy: dict[str, np.ndarray]  # per hour, fraction
    mem_used: dict[str, np.ndarray]  # per scrape, fraction
    disk: dict[str, np.ndarray]  # per hour, busiest device fraction
    net_bytes: dict[str, np.ndarray]  # per hour, rx + tx bytes/s on eth0


def _openmetrics(path: Path) -> Truth:
    """Counters are piecewise linear with a slope per hour (rates are exact); the memory gauge
    changes every scrape, so its hourly P95 is a real quantile over 12 points."""
    rng = np.random.default_rng(5)
    times = START.timestamp() + np.arange(0, HOURS * 3600 + 1, STEP)
    hour_of = np.minimum(((times - START.timestamp()) // 3600).astype(int), HOURS - 1)
    truth = Truth({}, {}, {}, {})
    families: dict[str, tuple[str, list[str]]] = {}

    def counter(slopes: np.ndarray) -> np.ndarray:  # per-hour slope -> counter values per scrape
        increments = np.concatenate([[0.0], slopes[hour_of[:-1]] * STEP])  # slope of the segment's hour
        return 1000.0 + np.cumsum(increments)

    def add(family: str, kind: str, sample: str, labels: str, values: np.ndarray) -> None:
        lines = families.setdefault(family, (kind, []))[1]
        lines += [f"{sample}{{{labels}}} {v:.6f} {t:.0f}" for v, t in zip(values, times, strict=True)]

    for n, (instance, (cpus, gib, speed)) in enumerate(INSTANCES.items()):
        base = f'instance="{instance}",job="node"'
        busy = 0.2 + 0.1 * n + 0.3 * rng.random(HOURS)
        truth.cpu_busy[instance] = busy
        for cpu in range(cpus):
            skew = 0.05 * (cpu - (cpus - 1) / 2)  # CPUs differ; their average is `busy`
            add(
                "node_cpu_seconds",
                "counter",
                "node_cpu_seconds_total",
                f'{base},cpu="{cpu}",mode="idle"',
                counter(1 - busy - skew),
            )
            add(
                "node_cpu_seconds",
                "counter",
                "node_cpu_seconds_total",
                f'{base},cpu="{cpu}",mode="user"',
                counter(busy + skew),
            )
        total = gib * 1024**3
        used = np.clip(0.4 + 0.05 * n + 0.1 * np.sin(times / 5000) + 0.05 * rng.random(len(times)), 0, 1)
        truth.mem_used[instance] = used
        add(
            "node_memory_MemTotal_bytes",
            "gauge",
            "node_memory_MemTotal_bytes",
            base,
            np.full(len(times), total),
        )
        add(
            "node_memory_MemAvailable_bytes",
            "gauge",
            "node_memory_MemAvailable_bytes",
            base,
            total * (1 - used),
        )
        io = {dev: 0.05 + 0.5 * rng.random(HOURS) for dev in ("sda", "sdb")}
        truth.disk[instance] = np.maximum(io["sda"], io["sdb"])
        for dev, slopes in io.items():
            add(
                "node_disk_io_time_seconds",
                "counter",
                "node_disk_io_time_seconds_total",
                f'{base},device="{dev}"',
                counter(slopes),
            )
        rx, tx = 1e6 + 2e7 * rng.random(HOURS), 5e5 + 1e7 * rng.random(HOURS)
        truth.net_bytes[instance] = rx + tx
        for family, slopes in (("node_network_receive_bytes", rx), ("node_network_transmit_bytes", tx)):
            add(family, "counter", f"{family}_total", f'{base},device="eth0"', counter(slopes))
            add(family, "counter", f"{family}_total", f'{base},device="lo"', counter(slopes * 50))  # ignored
        if speed:
            add(
                "node_network_speed_bytes",
                "gauge",
                "node_network_speed_bytes",
                f'{base},device="eth0"',
                np.full(len(times), speed),
            )
    with open(path, "w") as fh:
        for family, (kind, lines) in families.items():
            fh.write(f"# HELP {family} node_exporter-shaped test series.\n# TYPE {family} {kind}\n")
            fh.write("\n".join(lines) + "\n")
        fh.write("# EOF\n")
    return truth


@dataclass
class Server:
    url: str
    truth: Truth
    process: subprocess.Popen
    blocks: Path  # a pristine copy of the backfilled storage


def start_prometheus(storage: Path, port: int) -> subprocess.Popen:
    config = storage.parent / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\n")
    process = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={storage}",
         "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1) as response:
                if response.status == 200:
                    return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("prometheus exited at start-up") from None
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("prometheus did not become ready within 60 s")


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("prometheus")
    truth = _openmetrics(work / "node.om")
    subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(work / "node.om"), str(work / "data")],
        check=True,
        capture_output=True,
    )
    shutil.copytree(work / "data", work / "blocks")
    port = free_port()
    process = start_prometheus(work / "data", port)
    yield Server(f"http://127.0.0.1:{port}", truth, process, work / "blocks")
    process.terminate()
    process.wait(timeout=30)


def expected(truth: Truth) -> pd.DataFrame:
    """Hourly P95 as the importer defines it: the 12 points H+5m ... H+60m of each hour."""
    rows = []
    minutes = np.arange(5, 61, 5)
    for instance, (_, _, speed) in INSTANCES.items():
        for h in range(HOURS):
            points = truth.mem_used[instance][h * 60 + minutes]
            rows.append(
                {
                    "server_id": instance,
                    "timestamp": pd.Timestamp(START) + pd.Timedelta(hours=h),
                    "cpu_p95": 100 * truth.cpu_busy[instance][h],
                    "memory_p95": 100 * np.percentile(points, 95),
                    "disk_io_p95": 100 * truth.disk[instance][h],
                    "network_p95": 100 * truth.net_bytes[instance][h] / (speed or 10e9 / 8),
                }
            )
    return pd.DataFrame(rows)


def test_import_matches_the_series_hour_by_hour(prometheus, tmp_path):
    raw = tmp_path / "raw"
    done = capfc(
        "import", "prometheus", "--url", prometheus.url, "--start", "2024-05-01", "--end", "2024-05-04",
        "--selector", 'job="node"', "--network-capacity", "10Gbit/s", "--chunk-hours", "24",
        "--raw-root", str(raw),
    )  # fmt: skip
    assert "3 instances -> 216 hourly rows over 3 UTC days" in done.stdout
    assert "(15 requests, 0 retried)" in done.stdout  # 4 metrics x 3 daily chunks + 3 inventory queries
    got = pd.read_parquet(raw / "metrics").sort_values(["server_id", "timestamp"]).reset_index(drop=True)
    want = expected(prometheus.truth).sort_values(["server_id", "timestamp"]).reset_index(drop=True)
    assert list(got.server_id) == list(want.server_id)
    assert (got.timestamp.dt.tz_convert("UTC") == want.timestamp).all()
    for metric in METRICS:
        np.testing.assert_allclose(got[f"{metric}_p95"], want[f"{metric}_p95"], rtol=1e-5, atol=1e-4)
    inventory = pd.read_parquet(raw / "inventory" / "servers.parquet").set_index("server_id")
    assert inventory.loc["db-1:9100", "vcpus"] == 4 and inventory.loc["db-1:9100", "memory_gb"] == 32
    assert inventory.loc["web-1:9100", "network_mbps"] == 1000.0
    assert pd.isna(inventory.loc["batch-1:9100", "network_mbps"])  # no link speed exported
    again = capfc("import", "prometheus", "--url", prometheus.url, "--start", "2024-05-01",
                  "--end", "2024-05-04", "--selector", 'job="node"', "--network-capacity", "10Gbit/s",
                  "--raw-root", str(raw))  # fmt: skip
    assert "0 new in the inventory" in again.stdout and "overlap" not in again.stdout
    assert len(pd.read_parquet(raw / "metrics")) == len(got)  # idempotent: same files replaced


def test_missing_link_speed_is_reported_not_invented(prometheus, tmp_path):
    result = import_prometheus(
        tmp_path / "raw",
        PrometheusOptions(prometheus.url, START, START + dt.timedelta(days=1)),
        METRICS,
    )
    assert result.without_link_speed == ["batch-1:9100"]
    written = pd.read_parquet(tmp_path / "raw" / "metrics")
    batch = written[written.server_id == "batch-1:9100"]
    assert len(batch) == 24 and batch.network_p95.isna().all() and batch.cpu_p95.notna().all()
    assert result.values["network"] == 2 * 24


def test_errors_are_one_line(prometheus, tmp_path):
    bad = capfc("import", "prometheus", "--url", prometheus.url, "--start", "2024-05-01", "--end",
                "2024-05-02", "--selector", 'job="node"}) or vector(1', "--raw-root", str(tmp_path),
                check=False)  # fmt: skip
    assert bad.returncode == 2 and "--selector must be label matchers" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    empty = capfc("import", "prometheus", "--url", prometheus.url, "--start", "2023-01-01", "--end",
                  "2023-01-02", "--raw-root", str(tmp_path), check=False)  # fmt: skip
    assert empty.returncode == 2 and "no node_exporter data" in empty.stderr
    with pytest.raises(
        ImportInputError, match=r"cannot reach Prometheus at http://127.0.0.1:\d+ after 3 attempts"
    ):
        import_prometheus(
            tmp_path / "raw",
            PrometheusOptions(f"http://127.0.0.1:{free_port()}", START, START + dt.timedelta(days=1),
                              retries=2, backoff_seconds=0.05),
            METRICS,
        )  # fmt: skip


def test_retries_until_the_server_is_up(prometheus, tmp_path):
    """Prometheus restarted on a new port while the import is already calling it."""
    port = free_port()
    storage = tmp_path / "data"
    shutil.copytree(prometheus.blocks, storage)

    started: list[subprocess.Popen] = []
    threading.Timer(1.0, lambda: started.append(start_prometheus(storage, port))).start()
    try:
        result = import_prometheus(
            tmp_path / "raw",
            PrometheusOptions(f"http://127.0.0.1:{port}", START, START + dt.timedelta(hours=6),
                              retries=8, backoff_seconds=0.5),
            METRICS,
        )  # fmt: skip
    finally:
        time.sleep(0.1)
        for process in started:
            process.terminate()
            process.wait(timeout=30)
    assert result.retries >= 1 and result.hourly_rows == 3 * 6
