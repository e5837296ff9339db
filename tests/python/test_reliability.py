"""Hostile input and faults: each case ends in a clear error naming the file, row or column,
or in quarantine with a reason - and the row accounting reconciles. See README, Reliability."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time

import boto3
import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import BIN, PROJECT_DIR, PROJECT_VARS, WAREHOUSE_ONLY, capfc, isolated_env

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
    # Servers are picked by their service dates, not by id, so a generator change cannot move
    # a case onto a server that has left service.
    servers = pq.read_table(raw / "inventory" / "servers.parquet").to_pylist()
    in_service = [
        s["server_id"]
        for s in servers
        if s["decommissioned_date"] is None and s["server_id"] not in ("srv-0001", "srv-0002", "srv-0003")
    ]
    retired = [s["server_id"] for s in servers if s["decommissioned_date"] is not None]
    assert in_service and retired, "the small fleet needs a server in service and a retired one"
    typed_server, retired_server = in_service[0], retired[0]

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
    # A metric column of another type in one file each (one server, an hour per file): each file
    # is cast from its own type, so none of them changes any other file's values.
    typed = {
        "list_metric.parquet": pa.array([[50.0], [60.0]], pa.list_(pa.float64())),
        "timestamp_metric.parquet": pa.array(hours(day, 0, 1), TS),
        "bool_metric.parquet": pa.array([True, False]),
        "decimal_metric.parquet": pa.array(
            [decimal.Decimal("47.33"), decimal.Decimal("12.10")], pa.decimal128(10, 2)
        ),
        "int_metric.parquet": pa.array([47, 12], pa.int64()),
    }
    for hour, (name, column) in enumerate(typed.items()):
        land(
            name,
            {
                **rows_to_columns([row(t, server=typed_server) for t in hours(day, 2 * hour, 2 * hour + 1)]),
                "cpu_p95": column,
            },
            base,
        )
    # Service dates (inventory): every server was commissioned after the epoch, the retired one
    # has a decommissioned_date before `day`; srv-imported (added below) has no commissioned_date.
    land(
        "after_decommissioning.parquet", rows_to_columns([row(hours(day, 0)[0], server=retired_server)]), base
    )
    land(
        "no_commissioned_date.parquet", rows_to_columns([row(hours(day, 0)[0], server="srv-imported")]), base
    )
    epoch = dt.date(1970, 1, 1)
    write(
        raw / "metrics" / f"date={epoch}" / "epoch.parquet",
        rows_to_columns(
            [row(hours(epoch, 0)[0], server="srv-0001"), row(hours(epoch, 1)[0], server="srv-imported")]
        ),
        base,
    )
    files["epoch.parquet"] = 2
    inventory = pq.read_table(raw / "inventory" / "servers.parquet")
    extra = {name: [None] for name in inventory.column_names} | {
        "server_id": ["srv-imported"],
        "archetype": ["unknown"],
    }
    pq.write_table(
        pa.concat_tables([inventory, pa.table(extra, schema=inventory.schema)]),
        raw / "inventory" / "servers.parquet",
    )
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
    # 101 is accepted as 100 (over_capacity_policy cap); -1 is out of range
    "bad_values.parquet": {("cpu", "out_of_range"): 1, ("cpu", "non_finite"): 3, ("cpu", "missing_value"): 1},
    "duplicates.parquet": {(m, "duplicate"): 1 for m in ALL},
    "unknown_server.parquet": {(m, "unknown_server"): 1 for m in ALL},
    "misaligned.parquet": {(m, "misaligned_timestamp"): 1 for m in ALL},
    "wrong_partition.parquet": {(m, "partition_mismatch"): 1 for m in ALL},
    "constant_series.parquet": {},
    "metric_missing_for_server.parquet": {("network", "missing_value"): 24},
    "future.parquet": {(m, "future_timestamp"): 1 for m in ALL},
    "list_metric.parquet": {("cpu", "missing_value"): 2},
    "timestamp_metric.parquet": {("cpu", "missing_value"): 2},
    "bool_metric.parquet": {("cpu", "missing_value"): 2},
    "decimal_metric.parquet": {},
    "int_metric.parquet": {},
    "after_decommissioning.parquet": {(m, "after_decommissioning"): 1 for m in ALL},
    "no_commissioned_date.parquet": {},
    "epoch.parquet": {(m, r): 1 for m in ALL for r in ("before_commissioning", "older_than_max_history")},
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
        assert f"{part}/{name}: unreadable" in done.stderr, name
    assert "3 raw file(s) cannot be used" in done.stderr
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


def _dbt(project, tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **isolated_env(tmp_path), "CAPFC_DUCKDB_PATH": str(tmp_path / "w.duckdb")}
    return subprocess.run(
        [
            str(BIN / "dbt"),
            *args,
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(PROJECT_DIR / "profiles"),
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_var_injection_rejected_by_dbt_itself(small_fleet, tmp_path):
    # risk_windows was pasted into SQL unchecked: a crafted value read a local file into a mart.
    crafted = "[30]) as t(w) union all select count(*) from read_csv('/etc/passwd') --"
    for bad_vars, message in (
        ('{raw_root: "data/raw\'; drop table x; --"}', "is not a safe path"),
        (f"{{raw_root: '{small_fleet.raw}', feature_lags: ['1; drop table x']}}", "whole numbers"),
        (f'{{raw_root: "{small_fleet.raw}", risk_windows: "{crafted}"}}', "var risk_windows="),
    ):
        done = _dbt(PROJECT_DIR, tmp_path, "build", "--select", "stg_raw__servers", "--vars", bad_vars)
        assert done.returncode != 0 and message in done.stdout, done.stdout[-2000:]


def test_views_work_in_the_published_copy(hostile_build):
    con, _, _, _ = hostile_build
    assert con.sql("select count(*) from main_staging.stg_raw__servers").fetchone()[0] > 0


# --- issue 14, class 1: one validator (the seed of thresholds too) -----------------------------


def test_capfc_refuses_the_crafted_risk_windows_before_dbt(tmp_path):
    crafted = "[30]) as t(w) union all select count(*) from read_csv('/etc/passwd') --"
    done = capfc("--vars", f'{{risk_windows: "{crafted}"}}', "build", env=isolated_env(tmp_path), check=False)
    assert done.returncode == 2 and "var risk_windows=" in done.stderr
    assert not (tmp_path / "warehouse").exists()


def _project_with_seed(tmp_path, seed_csv: str):
    """A copy of the project (symlinks) whose threshold seed is replaced by seed_csv."""
    project = tmp_path / "project"
    project.mkdir(parents=True)
    for entry in PROJECT_DIR.iterdir():
        if entry.name not in {"seeds", "target", "logs", "warehouse", "data", ".venv", ".git"}:
            (project / entry.name).symlink_to(entry)
    (project / "seeds").mkdir()
    (project / "seeds" / "_seeds.yml").symlink_to(PROJECT_DIR / "seeds" / "_seeds.yml")
    (project / "seeds" / "risk_threshold_overrides.csv").write_text(seed_csv)
    return project


def test_bad_threshold_seed_fails_before_any_risk_model(small_fleet, tmp_path):
    header = "archetype,metric,high_risk_threshold,very_high_risk_threshold,underutilized_threshold,reason\n"
    shipped = (PROJECT_DIR / "seeds" / "risk_threshold_overrides.csv").read_text()
    # The seed, its test and the model that resolves it (dbt skips that model when the test fails).
    select = ("--select", "stg_raw__servers", "risk_threshold_overrides", "int_risk_thresholds_resolved")
    raw = ("--vars", f"{{raw_root: '{small_fleet.raw}'}}")
    good = _dbt(_project_with_seed(tmp_path / "good", shipped), tmp_path / "good", "build", *select, *raw)
    assert good.returncode == 0, good.stdout[-3000:]
    bad_seed = header + (
        "web,cpu,-10.0,95.0,,a negative threshold flags every server\n"
        "database,memory,85.0,80.0,,very high below high\n"
        "app,memory,,,90.0,underutilized above the high var (80)\n"
        "web,gpu,70.0,80.0,,not a metric\n"
        "batch,cpu,85.0,95.0,,fine\n"
    )
    bad = _dbt(_project_with_seed(tmp_path / "bad", bad_seed), tmp_path / "bad", "build", *select, *raw)
    assert bad.returncode != 0
    assert re.search(r"FAIL 4\s+valid_risk_threshold_overrides", bad.stdout), bad.stdout[-3000:]
    assert re.search(r"SKIP relation \S+int_risk_thresholds_resolved", bad.stdout), bad.stdout[-3000:]


# --- issue 14, classes 3 and 4: every raw-file problem names the file; nothing ignored ---------


def _zero_pages(source, target) -> None:
    """Keep the footer, zero every data page: the footer still reads."""
    data = bytearray(source.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little")
    data[4 : len(data) - 8 - footer] = bytes(len(data) - 12 - footer)
    target.write_bytes(bytes(data))


def test_preflight_never_blocks_and_names_every_unusable_file(small_fleet, tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    shutil.copytree(small_fleet.raw, raw)
    part = sorted((raw / "metrics").iterdir())[3]
    good = part / "part-0.parquet"
    os.mkfifo(part / "fifo.parquet")
    monkeypatch.chdir(part)  # a socket path must be short
    listener = socket.socket(socket.AF_UNIX)
    listener.bind("socket.parquet")
    (part / "device.parquet").symlink_to("/dev/zero")  # reading it would never end
    (part / "dangling.parquet").symlink_to(tmp_path / "nowhere.parquet")
    (part / "folder.parquet").mkdir()
    (part / "sub").mkdir()
    shutil.copy(good, part / "sub" / "nested.parquet")
    shutil.copy(good, raw / "metrics" / "loose.parquet")
    (raw / "metrics" / "2024-01-09").mkdir()
    shutil.copy(good, raw / "metrics" / "2024-01-09" / "no_key.parquet")
    _zero_pages(good, part / "pages_gone.parquet")
    assert pq.ParquetFile(part / "pages_gone.parquet").metadata.num_rows > 0  # the footer is fine
    (raw / "inventory" / "old").mkdir()
    shutil.copy(raw / "inventory" / "servers.parquet", raw / "inventory" / "old" / "servers.parquet")
    monkeypatch.chdir(PROJECT_DIR)
    try:
        done = capfc("build", "--raw-root", str(raw), env=isolated_env(tmp_path), check=False, timeout=120)
    finally:
        listener.close()
    assert done.returncode == 2, done.stderr
    expected = {
        part / "fifo.parquet": "a FIFO (named pipe), not a regular file",
        part / "socket.parquet": "a socket, not a regular file",
        part / "device.parquet": "a character device, not a regular file",
        part / "dangling.parquet": "a dangling symlink",
        part / "folder.parquet": "a directory, not a regular file",
        part / "sub" / "nested.parquet": "not in metrics/date=YYYY-MM-DD/",
        raw / "metrics" / "loose.parquet": "not in metrics/date=YYYY-MM-DD/",
        raw / "metrics" / "2024-01-09" / "no_key.parquet": "not in metrics/date=YYYY-MM-DD/",
        part / "pages_gone.parquet": "unreadable (",
        raw / "inventory" / "old" / "servers.parquet": "not directly in inventory/",
    }
    for path, why in expected.items():
        assert f"{path}: {why}" in done.stderr, path
    assert f"{len(expected)} raw file(s) cannot be used" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "warehouse").exists()


def test_bare_dbt_names_every_misplaced_or_clashing_file(small_fleet, tmp_path):
    """Without capfc (bare dbt, or an S3 raw root) the SQL side applies the layout rule and
    refuses files with columns the reader adds itself, before any model reads the files."""
    raw = tmp_path / "raw"
    shutil.copytree(small_fleet.raw, raw)
    part = sorted((raw / "metrics").iterdir())[3]
    day = dt.date.fromisoformat(part.name.removeprefix("date="))
    columns = rows_to_columns([row(hours(day, 0)[0])])
    clashing = {name: part / f"clash_{name}.parquet" for name in ("filename", "file_row_number", "date")}
    for name, path in clashing.items():
        write(path, {**columns, name: ["x"]}, {"timestamp": TS})
    write(part / "sub" / "nested.parquet", columns, {"timestamp": TS})
    write(raw / "metrics" / "loose.parquet", columns, {"timestamp": TS})
    done = _dbt(
        PROJECT_DIR,
        tmp_path,
        "build",
        "--select",
        "stg_raw__metrics_hourly",
        "int_raw_partitions_loaded",
        "--vars",
        f"{{raw_root: '{raw}'}}",
    )
    assert done.returncode != 0
    assert "5 raw metrics file(s) break the raw contract" in done.stdout, done.stdout[-3000:]
    for name, path in clashing.items():
        assert f"{path}: has a column named {name}" in done.stdout
    for path in (part / "sub" / "nested.parquet", raw / "metrics" / "loose.parquet"):
        assert f"{path}: not in metrics/date=YYYY-MM-DD/" in done.stdout
    assert re.search(r"SKIP relation \S+int_raw_partitions_loaded", done.stdout)


def test_rows_outside_service_dates_are_quarantined_and_history_starts_with_the_fleet(hostile_build):
    con, _, day, fleet = hostile_build
    start = fleet.spec.start
    assert (
        con.sql("select min(metric_date) from main_intermediate.int_daily_features_computed").fetchone()[0]
        == start
    )
    assert (
        con.sql("select min(calendar_date) from main_intermediate.int_calendar_days_generated").fetchone()[0]
        == start
    )
    epoch = con.sql("""select rows_read, measurements_quarantined, is_reconciled
        from main_marts.fct_load_reconciliation where partition_date = date '1970-01-01'""").fetchone()
    assert epoch == (2, 8, True)
    imported = con.sql(f"""select count(*) from main_intermediate.int_daily_metrics_aggregated
        where server_id = 'srv-imported' and metric_date = date '{day}'""").fetchone()[0]
    assert imported == 4  # a server without commissioned_date is accepted within max_history_days


# --- issue 11 item 6: over-capacity values are saturation, not lost -------------------------


def test_over_capacity_values_are_capped_and_counted(hostile_build):
    con, _, day, _ = hostile_build
    capped = con.sql("""select partition_date, measurements_capped from main_marts.fct_load_reconciliation
        where measurements_capped > 0""").fetchall()
    assert capped == [(day, 1)]  # bad_values.parquet: cpu 101 % at 09:00
    daily = con.sql(f"""select hours_over_capacity, max_pct
        from main_intermediate.int_daily_metrics_aggregated
        where metric_date = date '{day}' and server_id = 'srv-0001' and metric = 'cpu'""").fetchone()
    assert daily == (1, 100.0)
    assert not con.sql("""select * from main_marts.fct_quarantined_measurements
        where metric_value_pct > 100 and isfinite(metric_value_pct)""").fetchall()


# --- issue 14, class 9: a file's types never change other files' values ---------------------


def test_other_types_in_one_file_leave_every_other_file_bit_identical(hostile_build):
    con, _, day, _ = hostile_build
    staged = con.sql("""select source_file, file_row_number, cpu_p95_pct, memory_p95_pct
        from main_staging.stg_raw__metrics_hourly where source_file like '%/part-0.parquet'
        order by source_file, file_row_number""").fetchall()
    by_file: dict[str, list] = {}
    for path, _, cpu, memory in staged:
        by_file.setdefault(path, []).append((cpu, memory))
    assert len(by_file) > 100
    for path, values in by_file.items():
        table = pq.read_table(path, columns=["cpu_p95", "memory_p95"])
        assert table.schema.field("cpu_p95").type == pa.float32()
        expected = zip(
            *(pc.cast(table[c], pa.float64()).to_pylist() for c in ("cpu_p95", "memory_p95")), strict=True
        )
        assert [(a.hex(), b.hex()) for a, b in values] == [(a.hex(), b.hex()) for a, b in expected], path
    typed = dict(
        con.sql(f"""select regexp_extract(source_file, '[^/]+$') || '/' || file_row_number, cpu_p95_pct
        from main_staging.stg_raw__metrics_hourly where partition_date = date '{day}'
          and regexp_extract(source_file, '[^/]+$') in ('decimal_metric.parquet', 'int_metric.parquet',
              'strings.parquet', 'bool_metric.parquet', 'list_metric.parquet')""").fetchall()
    )
    assert typed == {
        "decimal_metric.parquet/0": 47.33,  # exactly the decimal, not 47.33 rounded through FLOAT
        "decimal_metric.parquet/1": 12.1,
        "int_metric.parquet/0": 47.0,
        "int_metric.parquet/1": 12.0,
        "strings.parquet/0": 42.5,
        "strings.parquet/1": None,
        "bool_metric.parquet/0": None,  # not 1.0
        "bool_metric.parquet/1": None,
        "list_metric.parquet/0": None,
        "list_metric.parquet/1": None,
    }


# --- issue 14, class 8: user errors are one line, exit 2, never a traceback -----------------


@pytest.fixture(scope="module")
def export_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("csv") / "export.csv"
    path.write_text("timestamp,server_id,metric,value\n2024-01-01T00:00:00,web-1,cpu,50\n")
    return path


USER_ERRORS = {
    "vars_not_yaml": (["--vars", "{raw_root: [1", "build"], "--vars is not valid YAML"),
    "vars_not_mapping": (["--vars", "[1, 2]", "build"], "--vars must be a mapping"),
    "vars_unknown_key": (["--vars", "{fleet_server: 3}", "build"], "unknown var 'fleet_server'"),
    "vars_bad_value": (["--vars", "{min_history_days: -3}", "build"], "var min_history_days=-3"),
    "unknown_time_zone": (["import", "csv", "{csv}", "--timezone", "Mars/Olympus"], "unknown time zone"),
    "mapping_unknown_metric": (
        ["import", "csv", "{csv}", "--metric", "gpu=cpu"],
        "--metric gpu: not a metric",
    ),
    "mapping_without_name": (["import", "csv", "{csv}", "--metric", "cpu"], "--metric takes METRIC=NAME"),
    "mapping_shared_column": (
        ["import", "csv", "{csv}", "--layout", "wide", "--metric", "cpu=x", "--metric", "memory=x"],
        "several metrics to the same column",
    ),
    "mapping_missing_column": (["import", "csv", "{csv}", "--timestamp-column", "when"], "no column 'when'"),
    "csv_missing": (["import", "csv", "{tmp}/missing.csv"], "missing.csv: no such file"),
    "tag_without_value": (
        ["import", "cloudwatch", "--start", "2024-01-01", "--end", "2024-02-01", "--tag", "team"],
        "--tag takes KEY=VALUE",
    ),
    "date_unreadable": (["import", "cloudwatch", "--start", "yesterday", "--end", "2024-02-01"], "isoformat"),
    "report_not_duckdb": (["report", "--database", "{csv}"], "is not a DuckDB warehouse file"),
    "project_dir_missing": (["--project-dir", "{tmp}/nowhere", "build"], "no dbt_project.yml found"),
    "unknown_option": (["build", "--no-such-option"], "unrecognized arguments: --no-such-option"),
    "generate_bad_start": (
        ["generate", "--start", "2024-13-01", "--raw-root", "{tmp}/raw"],
        "month must be in 1..12",
    ),
}


@pytest.mark.parametrize("case", sorted(USER_ERRORS))
def test_user_errors_are_one_line_with_exit_2(case, export_csv, tmp_path):
    argv, message = USER_ERRORS[case]
    argv = [a.replace("{csv}", str(export_csv)).replace("{tmp}", str(tmp_path)) for a in argv]
    if argv[:2] == ["import", "csv"]:
        argv += ["--raw-root", str(tmp_path / "raw")]
    done = capfc(*argv, env=isolated_env(tmp_path), check=False, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("capfc") and message in lines[0], done.stderr


# --- issue 14, class 5: every model toggle builds ----------------------------------------------

CHALLENGERS = ("seasonal_naive", "last_value", "prophet", "random_forest", "gradient_boosting", "global_hgb")


def test_every_model_toggle_builds_and_every_series_keeps_a_forecast(small_fleet, tmp_path):
    """Every challenger switched off at once (Prophet off broke the build once): the marts build
    from the 28-day mean alone, and every live series still has a champion forecast and risk."""
    disabled = CHALLENGERS
    models = {
        name: {**params, "enabled": params.get("enabled", False) and name not in disabled}
        for name, params in PROJECT_VARS["forecast_models"].items()
    }
    raw = tmp_path / "raw"
    shutil.copytree(small_fleet.raw, raw)
    capfc("--vars", json.dumps({"forecast_models": models}), "build", "--raw-root", str(raw),
          env=isolated_env(tmp_path))  # fmt: skip
    enabled = {name for name, params in models.items() if params["enabled"]}
    with duckdb.connect(str(tmp_path / "warehouse" / "capacity_forecaster.duckdb"), read_only=True) as con:
        backtested = {
            m for (m,) in con.sql("select distinct model from main_marts.fct_backtest_metrics").fetchall()
        }
        registered = {
            m
            for (m,) in con.sql(
                "select distinct model from main_marts.fct_model_registry where component = 'forecast'"
            ).fetchall()
        }
        champions = {
            m
            for (m,) in con.sql(
                "select distinct champion_model from main_marts.fct_forecast_champions"
            ).fetchall()
        }
        missing = con.sql("""
            select count(*) from main_marts.dim_servers s
            cross join (select distinct metric from main_marts.fct_forecasts) m
            where not s.is_decommissioned and not exists (
                select 1 from main_marts.fct_forecasts f
                where f.server_id = s.server_id and f.metric = m.metric and f.is_champion)
        """).fetchone()[0]
        risk_rows = con.sql("select count(*) from main_marts.fct_capacity_risk").fetchone()[0]
    assert backtested == enabled | {"archetype_pooled"}
    assert registered == enabled
    assert champions <= enabled and "moving_average" in enabled
    assert missing == 0 and risk_rows > 0
