"""Shared fixtures: a small synthetic fleet, a real moto_server, and real dbt builds."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from capacity_forecaster.config import load_vars
from capacity_forecaster.generator import FleetSpec, generate_fleet
from capacity_forecaster.generator.fleet import FleetResult

PROJECT_DIR = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Tests of the SQL layer leave out forecasting (python models and what depends on them).
WAREHOUSE_ONLY = ("--exclude", "path:python_models+")
PROJECT_VARS = load_vars(PROJECT_DIR)
HOLIDAYS = tuple(PROJECT_VARS["holidays"])
FLAG_THRESHOLDS = (PROJECT_VARS["high_risk_threshold"], PROJECT_VARS["very_high_risk_threshold"])
SMALL_FLEET = FleetSpec(
    servers=16, days=150, start=dt.date(2024, 1, 1), seed=7, future_days=20, holidays=HOLIDAYS
)


@dataclass
class Fleet:
    spec: FleetSpec
    raw: Path
    truth: Path
    result: FleetResult


@pytest.fixture(scope="session")
def small_fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    root = tmp_path_factory.mktemp("fleet")
    result = generate_fleet(SMALL_FLEET, root / "raw", root / "truth", thresholds=FLAG_THRESHOLDS)
    return Fleet(SMALL_FLEET, root / "raw", root / "truth", result)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class MotoServer:
    endpoint_url: str
    host_port: str
    process: subprocess.Popen

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def start_moto(port: int | None = None) -> MotoServer:
    port = port or free_port()
    process = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return MotoServer(f"http://127.0.0.1:{port}", f"127.0.0.1:{port}", process)
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("moto_server exited at start-up") from None
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto_server did not start within 30 s")


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials so nothing can ever reach a real AWS account."""
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")


@pytest.fixture
def moto(aws_env: None) -> Iterator[MotoServer]:
    server = start_moto()
    yield server
    server.stop()


def capfc(
    *args: str, env: dict[str, str] | None = None, check: bool = True, timeout: int = 900
) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess, from the project folder."""
    completed = subprocess.run(
        [str(BIN / "capfc"), *args],
        cwd=PROJECT_DIR,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and completed.returncode != 0:
        raise AssertionError(
            f"capfc {' '.join(args)} failed ({completed.returncode}):\n"
            f"{completed.stdout[-6000:]}\n{completed.stderr[-4000:]}"
        )
    return completed


def isolated_env(work: Path) -> dict[str, str]:
    """Keep test builds out of the developer's warehouse/ and target/ folders."""
    return {
        "CAPFC_WAREHOUSE_DIR": str(work / "warehouse"),
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


@dataclass
class Warehouse:
    path: Path
    env: dict[str, str]
    raw: Path

    def query(self, sql: str):
        with duckdb.connect(str(self.path), read_only=True) as con:
            return con.sql(sql).df()


@pytest.fixture(scope="session")
def built_warehouse(small_fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """The small fleet, built once through the real CLI -> dbt -> DuckDB."""
    work = tmp_path_factory.mktemp("build")
    raw = work / "raw"
    shutil.copytree(small_fleet.raw, raw)
    env = isolated_env(work)
    capfc("build", "--raw-root", str(raw), env=env)
    return Warehouse(work / "warehouse" / "capacity_forecaster.duckdb", env, raw)
