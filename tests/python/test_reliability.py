"""Hostile input and faults: each case ends in a clear error naming the file, row or column,
or in quarantine with a reason - and the row accounting reconciles. See README, Reliability."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time

import boto3
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import BIN, PROJECT_DIR, WAREHOUSE_ONLY, capfc, isolated_env

from capacity_forecaster.s3_push import CHECKSUM_KEY, PushError, push_dataset

pytestmark = pytest.mark.dbt
UTC = dt.UTC


def write(path, columns: dict, schema: dict | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: pa.array(v, type=(schema or {}).get(k)) for k, v in columns.items()}
    pq.write_table(pa.table(arrays), path)


def hours(day: dt.date, *hs: float) -> list[dt.datetime]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=UTC)
    return [start + dt.timedelta(hours=h) for h in hs]


TS = pa.timestamp("us", tz="UTC")


def row(ts, server="srv-0001", cpu=50.0, memory=50.0, disk=50.0, network=50.0) -> dict:
    return {
        "timestamp": ts,
        "server_id": server,
        "cpu_p95": cpu,
        "memory_p95": memory,
        "disk_io_p95": disk,
        "network_p95": network,
    }


def rows_to_columns(rows: list[dict]) -> dict:
    return {k: [r[k] for r in rows] for k in rows[0]}


@pytest.fixture(scope="module")
def hostile_build(small_fleet, tmp_path_factory):
    """The small fleet plus one day of hostile files, built once."""
    work = tmp_path_factory.mktemp("hostile")
    raw = work / "raw"
    shutil.copytree(small_fleet.raw, raw)
    day = small_fleet.spec.start + dt.timedelta(days=small_fleet.spec.days)  # a day with no data
    part = raw / "metrics" / f"date={day}"
    files = {}

    def land(name: str, columns: dict, schema: dict | None = None) -> None:
        write(part / name, columns, schema)
        files[name] = len(next(iter(columns.values())))

    base = {"timestamp": TS}
    land(
        "missing_column.parquet",
        {k: v for k, v in rows_to_columns([row(t) for t in hours(day, 0, 1)]).items() if k != "network_p95"},
        base,
    )
    renamed = rows_to_columns([row(t) for t in hours(day, 2)])
    renamed["cpu"] = renamed.pop("cpu_p95")
    land("renamed_column.parquet", renamed, base)
    land("extra_column.parquet", {**rows_to_columns([row(t) for t in hours(day, 3)]), "gpu_p95": [1.0]}, base)
    land(
        "strings.parquet",
        {**rows_to_columns([row(t) for t in hours(day, 4, 5)]), "cpu_p95": ["42.5", "n/a"]},
        base,
    )
    land(
        "string_timestamps.parquet",
        {
            **rows_to_columns([row(t) for t in hours(day, 6, 7)]),
            "timestamp": [f"{day}T06:00:00Z", "yesterday"],
        },
    )
    land(
        "offset_timestamps.parquet",
        rows_to_columns(
            [row(dt.datetime.combine(day, dt.time(10), tzinfo=dt.timezone(dt.timedelta(hours=2))))]
        ),
        {"timestamp": pa.timestamp("us", tz="+02:00")},
    )
    land(
        "bad_values.parquet",
        rows_to_columns(
            [
                row(t, cpu=v)
                for t, v in zip(
                    hours(day, 9, 10, 11, 12, 13, 14),
                    [101.0, -1.0, float("nan"), float("inf"), float("-inf"), None],
                    strict=True,
                )
            ]
        ),
        base,
    )
    land("duplicates.parquet", rows_to_columns([row(t) for t in hours(day, 15, 15)]), base)
    land("unknown_server.parquet", rows_to_columns([row(hours(day, 16)[0], server="srv-9999")]), base)
    land("misaligned.parquet", rows_to_columns([row(hours(day, 17.5)[0])]), base)
    land("wrong_partition.parquet", rows_to_columns([row(hours(day, -2)[0])]), base)
    land(
        "constant_series.parquet",
        rows_to_columns([row(t, server="srv-0002") for t in hours(day, *range(24))]),
        base,
    )
    land(
        "metric_missing_for_server.parquet",
        rows_to_columns([row(t, server="srv-0003", network=None) for t in hours(day, *range(24))]),
        base,
    )
    future = dt.date(2099, 1, 1)
    write(
        raw / "metrics" / f"date={future}" / "future.parquet",
        rows_to_columns([row(hours(future, 1)[0])]),
        base,
    )
    files["future.parquet"] = 1
    write(
        raw / "metrics" / f"date={day + dt.timedelta(days=1)}" / "empty.parquet",
        {k: v[:0] for k, v in rows_to_columns([row(hours(day, 1)[0])]).items()},
        base,
    )

    env = isolated_env(work)
    capfc("build", "--raw-root", str(raw), *WAREHOUSE_ONLY, env=env)
    con = duckdb.connect(str(work / "warehouse" / "capacity_forecaster.duckdb"), read_only=True)
    return con, files, day, small_fleet


def reasons(con, name: str) -> dict[tuple[str, str], int]:
    out = con.sql(f"""select metric, quarantine_reason, count(*) from main_marts.fct_quarantined_measurements
                      where source_file like '%/{name}' group by all""").fetchall()
    return {(m, r): n for m, r, n in out}


ALL = ("cpu", "memory", "disk_io", "network")
EXPECTED = {
    "missing_column.parquet": {("network", "missing_value"): 2},
    "renamed_column.parquet": {("cpu", "missing_value"): 1},
    "extra_column.parquet": {},
    "strings.parquet": {("cpu", "missing_value"): 1},
    "string_timestamps.parquet": {(m, "invalid_timestamp"): 1 for m in ALL},
    "offset_timestamps.parquet": {},
    "bad_values.parquet": {("cpu", "out_of_range"): 2, ("cpu", "non_finite"): 3, ("cpu", "missing_value"): 1},
    "duplicates.parquet": {(m, "duplicate"): 1 for m in ALL},
    "unknown_server.parquet": {(m, "unknown_server"): 1 for m in ALL},
    "misaligned.parquet": {(m, "misaligned_timestamp"): 1 for m in ALL},
    "wrong_partition.parquet": {(m, "partition_mismatch"): 1 for m in ALL},
    "constant_series.parquet": {},
    "metric_missing_for_server.parquet": {("network", "missing_value"): 24},
    "future.parquet": {(m, "future_timestamp"): 1 for m in ALL},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_file_outcome(hostile_build, name):
    con, _, _, _ = hostile_build
    assert reasons(con, name) == EXPECTED[name]


def test_row_accounting_reconciles_with_hostile_files(hostile_build):
    con, files, _, fleet = hostile_build
    rows_read, ok = con.sql(
        "select sum(rows_read), bool_and(is_reconciled) from main_marts.fct_load_reconciliation"
    ).fetchone()
    assert ok and rows_read == fleet.result.metrics_rows + sum(files.values())


def test_accepted_hostile_values_land_where_expected(hostile_build):
    con, _, day, _ = hostile_build
    daily = dict(
        con.sql(f"""select server_id || '/' || metric, hours_present
                             from main_intermediate.int_daily_metrics_aggregated
                             where metric_date = date '{day}'""").fetchall()
    )
    assert daily["srv-0002/cpu"] == 24  # a constant series is valid data
    assert "srv-0003/network" not in daily and daily["srv-0003/cpu"] == 24
    p95 = con.sql(f"""select p95_pct from main_intermediate.int_daily_metrics_aggregated
                      where metric_date = date '{day}' and server_id = 'srv-0002'""").fetchall()
    assert {round(v, 6) for (v,) in p95} == {50.0}
    # +02:00 10:00 is 08:00 UTC; a string "...T06:00:00Z" is read as 06:00 UTC
    srv1_cpu_hours = con.sql(f"""select count(*) from main_intermediate.int_metrics_hourly_checked
        where server_id = 'srv-0001' and partition_date = date '{day}'
          and row_quarantine_reason is null and hour(measured_at) in (6, 8)""").fetchone()[0]
    assert srv1_cpu_hours == 2


def test_unreadable_files_are_all_named_before_dbt_runs(small_fleet, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(small_fleet.raw, raw)
    part = sorted((raw / "metrics").iterdir())[5]
    (part / "corrupt.parquet").write_bytes(b"this is not parquet" * 10)
    (part / "zero.parquet").write_bytes(b"")
    good = (part / "part-0.parquet").read_bytes()
    (part / "truncated.parquet").write_bytes(good[: len(good) // 2])
    done = capfc("build", "--raw-root", str(raw), env=isolated_env(tmp_path), check=False)
    assert done.returncode == 2
    for name in ("corrupt.parquet", "zero.parquet", "truncated.parquet"):
        assert f"{part}/{name}" in done.stderr, name
    assert "3 raw file(s) cannot be read" in done.stderr
    assert not (tmp_path / "warehouse").exists()  # dbt never started, nothing published


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_killed_build_keeps_last_good_warehouse_and_concurrent_build_fails(small_fleet, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(small_fleet.raw, raw)
    env = isolated_env(tmp_path)
    capfc("build", "--raw-root", str(raw), *WAREHOUSE_ONLY, env=env)
    published = tmp_path / "warehouse" / "capacity_forecaster.duckdb"
    good = _sha(published)

    build = subprocess.Popen(
        [str(BIN / "capfc"), "build", "--raw-root", str(raw), "--full-refresh", *WAREHOUSE_ONLY],
        cwd=PROJECT_DIR,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    time.sleep(4)  # dbt is running and holds the build lock
    second = capfc("build", "--raw-root", str(raw), *WAREHOUSE_ONLY, env=env, check=False)
    assert second.returncode == 2 and "another build is running" in second.stderr
    os.killpg(build.pid, signal.SIGKILL)
    build.wait(timeout=30)
    assert _sha(published) == good  # the killed build published nothing
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.sql("select bool_and(is_reconciled) from main_marts.fct_load_reconciliation").fetchone()[0]
    capfc("build", "--raw-root", str(raw), *WAREHOUSE_ONLY, env=env)  # the lock died with it


@pytest.mark.s3
def test_s3_server_stalls_mid_upload_then_rerun_completes(moto, small_fleet):
    client = boto3.client("s3", endpoint_url=moto.endpoint_url, region_name="us-east-1")
    client.create_bucket(Bucket="capfc-stall")
    stalled = threading.Event()

    def stall_after_some(done: int, total: int) -> None:
        if done >= 20 and not stalled.is_set():
            stalled.set()
            os.kill(moto.process.pid, signal.SIGSTOP)

    started = time.monotonic()
    with pytest.raises(PushError, match=r"cannot reach|failed"):
        push_dataset(
            small_fleet.raw,
            "capfc-stall",
            "raw",
            endpoint_url=moto.endpoint_url,
            workers=2,
            max_attempts=2,
            read_timeout=2,
            progress=stall_after_some,
        )
    assert stalled.is_set() and time.monotonic() - started < 120  # bounded retries
    os.kill(moto.process.pid, signal.SIGCONT)

    result = push_dataset(small_fleet.raw, "capfc-stall", "raw", endpoint_url=moto.endpoint_url)
    local = {
        f"raw/{p.relative_to(small_fleet.raw).as_posix()}": p for p in small_fleet.raw.rglob("*.parquet")
    }
    assert result.objects_verified == len(local) and not result.extraneous
    pages = client.get_paginator("list_objects_v2").paginate(Bucket="capfc-stall")
    remote = {o["Key"] for page in pages for o in page.get("Contents", [])}
    assert remote == set(local)
    for key, path in list(local.items())[:: max(1, len(local) // 25)]:
        head = client.head_object(Bucket="capfc-stall", Key=key)
        assert head["Metadata"][CHECKSUM_KEY] == _sha(path)


# Made at run time, so it can only be found where the run wrote it (not in this file).
CANARY = "capfc-canary-" + secrets.token_hex(12)
SECRET_PATTERNS = (re.compile(r"AKIA[0-9A-Z]{16}"), re.compile(re.escape(CANARY)))


@pytest.mark.s3
def test_no_credential_in_repo_logs_or_dbt_artifacts(moto, small_fleet, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CANARY)
    boto3.client("s3", endpoint_url=moto.endpoint_url, region_name="us-east-1").create_bucket(
        Bucket="capfc-secrets"
    )
    capfc(
        "push",
        "--source",
        str(small_fleet.raw),
        "--bucket",
        "capfc-secrets",
        "--prefix",
        "raw",
        "--endpoint-url",
        moto.endpoint_url,
    )
    env = {**isolated_env(tmp_path), "CAPFC_S3_ENDPOINT": moto.host_port}
    done = capfc(
        "build", "--raw-root", "s3://capfc-secrets/raw", "--select", "+fct_load_reconciliation", env=env
    )
    scanned = 0
    tracked = subprocess.run(["git", "ls-files"], cwd=PROJECT_DIR, capture_output=True, text=True).stdout
    paths = [PROJECT_DIR / p for p in tracked.split()] + [
        p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".log", ".json", ".sql", ".yml")
    ]
    for path in paths:
        if path.is_file() and path.stat().st_size < 20_000_000:
            text = path.read_text(errors="ignore")
            scanned += 1
            for pattern in SECRET_PATTERNS:
                assert not pattern.search(text), f"secret pattern {pattern.pattern} in {path}"
    assert scanned > 50 and CANARY not in done.stdout + done.stderr


def test_var_injection_rejected_by_dbt_itself(small_fleet, tmp_path):
    env = {**os.environ, **isolated_env(tmp_path), "CAPFC_DUCKDB_PATH": str(tmp_path / "x.duckdb")}
    done = subprocess.run(
        [
            str(BIN / "dbt"),
            "build",
            "--profiles-dir",
            "profiles",
            "--select",
            "stg_raw__servers",
            "--vars",
            '{raw_root: "data/raw\'; drop table x; --"}',
        ],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert "is not a safe path" in done.stdout
    window = subprocess.run(
        [
            str(BIN / "dbt"),
            "build",
            "--profiles-dir",
            "profiles",
            "--select",
            "stg_raw__servers",
            "--vars",
            f"{{raw_root: '{small_fleet.raw}', feature_lags: ['1; drop table x']}}",
        ],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert window.returncode != 0 and "whole numbers" in window.stdout


def test_views_work_in_the_published_copy(hostile_build):
    con, _, _, _ = hostile_build
    assert con.sql("select count(*) from main_staging.stg_raw__servers").fetchone()[0] > 0
