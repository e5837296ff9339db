"""Push to a real moto_server process over HTTP, then read it back through dbt + httpfs."""

from __future__ import annotations

import boto3
import pytest
from conftest import capfc, isolated_env

from capacity_forecaster.s3_push import PushError, push_dataset

BUCKET, PREFIX = "capfc-test", "raw/server_metrics"


def _client(endpoint_url: str):
    return boto3.client("s3", endpoint_url=endpoint_url, region_name="us-east-1")


def _remote(endpoint_url: str) -> dict[str, int]:
    pages = _client(endpoint_url).get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}


@pytest.mark.s3
def test_push_is_verified_idempotent_and_detects_changes(moto, small_fleet):
    _client(moto.endpoint_url).create_bucket(Bucket=BUCKET)
    local = sorted(small_fleet.raw.rglob("*.parquet"))

    first = push_dataset(small_fleet.raw, BUCKET, PREFIX, endpoint_url=moto.endpoint_url)
    assert len(first.uploaded) == len(local) and not first.skipped
    assert first.objects_verified == len(local)
    assert first.bytes_verified == sum(p.stat().st_size for p in local)
    remote = _remote(moto.endpoint_url)
    assert remote == {
        f"{PREFIX}/{p.relative_to(small_fleet.raw).as_posix()}": p.stat().st_size for p in local
    }

    again = push_dataset(small_fleet.raw, BUCKET, PREFIX, endpoint_url=moto.endpoint_url)
    assert not again.uploaded and len(again.skipped) == len(local)

    # Same size, different bytes: only the checksum can tell; it must be re-uploaded.
    victim = local[3]
    data = bytearray(victim.read_bytes())
    data[-20] ^= 0xFF
    victim.write_bytes(bytes(data))
    try:
        changed = push_dataset(small_fleet.raw, BUCKET, PREFIX, endpoint_url=moto.endpoint_url)
        assert changed.uploaded == [f"{PREFIX}/{victim.relative_to(small_fleet.raw).as_posix()}"]
    finally:
        data[-20] ^= 0xFF
        victim.write_bytes(bytes(data))


@pytest.mark.s3
def test_push_clear_errors(moto, small_fleet, monkeypatch):
    with pytest.raises(PushError, match="does not exist"):
        push_dataset(small_fleet.raw, "no-such-bucket", PREFIX, endpoint_url=moto.endpoint_url)
    with pytest.raises(PushError, match="nothing to push"):
        push_dataset(small_fleet.raw / "nowhere", BUCKET, PREFIX, endpoint_url=moto.endpoint_url)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(PushError, match="no AWS credentials"):
        push_dataset(small_fleet.raw, BUCKET, PREFIX, endpoint_url=moto.endpoint_url)


@pytest.mark.s3
def test_unreachable_endpoint_fails_clearly(aws_env, small_fleet):
    from conftest import free_port

    with pytest.raises(PushError, match="cannot reach"):
        push_dataset(
            small_fleet.raw, BUCKET, PREFIX, endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=2
        )


@pytest.mark.s3
@pytest.mark.dbt
def test_dbt_reads_raw_contract_back_from_s3(moto, small_fleet, tmp_path):
    _client(moto.endpoint_url).create_bucket(Bucket=BUCKET)
    capfc(
        "push",
        "--source",
        str(small_fleet.raw),
        "--bucket",
        BUCKET,
        "--prefix",
        PREFIX,
        "--endpoint-url",
        moto.endpoint_url,
    )
    env = {**isolated_env(tmp_path), "CAPFC_S3_ENDPOINT": moto.host_port}
    capfc("build", "--raw-root", f"s3://{BUCKET}/{PREFIX}", "--select", "+fct_load_reconciliation", env=env)
    import duckdb

    with duckdb.connect(str(tmp_path / "warehouse" / "capacity_forecaster.duckdb"), read_only=True) as con:
        rows_read, reconciled = con.sql(
            "select sum(rows_read), bool_and(is_reconciled) from main_marts.fct_load_reconciliation"
        ).fetchone()
    assert rows_read == small_fleet.result.metrics_rows
    assert reconciled
