"""`capfc publish --to`: public marts as Parquet + Athena DDL on a real moto_server (read back
with DuckDB over s3://) and in a local folder."""

from __future__ import annotations

import json
import shutil

import boto3
import duckdb
import pytest
from conftest import capfc

from capacity_forecaster.duckdb_extensions import stage_bundled_extensions
from capacity_forecaster.mart_export import athena_column, athena_ddl

pytestmark = pytest.mark.dbt
BUCKET = "capfc-marts"


def warehouse_counts(database) -> dict[str, int]:
    with duckdb.connect(str(database), read_only=True) as con:
        return dict(con.sql("select table_name, row_count from main_marts.warehouse_meta").fetchall())


def s3_reader(moto) -> duckdb.DuckDBPyConnection:
    stage_bundled_extensions()
    con = duckdb.connect()
    con.execute("load httpfs")
    con.execute(f"""create secret moto (type s3, key_id 'testing', secret 'testing', region 'us-east-1',
                    endpoint '{moto.host_port}', url_style 'path', use_ssl false)""")
    return con


@pytest.mark.s3
def test_publish_to_s3_round_trips_idempotently(moto, built_warehouse, tmp_path):
    client = boto3.client("s3", endpoint_url=moto.endpoint_url, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="marts/notes/readme.txt", Body=b"not ours")  # must survive
    target = f"s3://{BUCKET}/marts"
    args = ("publish", "--to", target, "--endpoint-url", moto.endpoint_url)
    first = capfc(*args, env=built_warehouse.env)
    expected = warehouse_counts(built_warehouse.path)
    assert f"{len(expected)} marts" in first.stdout and "0 unchanged" in first.stdout

    con = s3_reader(moto)
    for table, rows in expected.items():
        read = con.sql(
            f"select count(*) from read_parquet('{target}/{table}/**/*.parquet', hive_partitioning = true)"
        ).fetchone()[0]
        assert read == rows, table
    metrics = con.sql(
        f"select metric, count(*) from read_parquet('{target}/fct_forecasts/*/*.parquet', "
        "hive_partitioning = true) group by 1 order by 1"
    ).fetchall()
    in_warehouse = built_warehouse.query(
        "select metric, count(*) as n from main_marts.fct_forecasts group by 1 order by 1"
    )
    assert metrics == list(in_warehouse.itertuples(index=False, name=None))  # hive partitions read back

    manifest = json.loads(client.get_object(Bucket=BUCKET, Key="marts/_manifest.json")["Body"].read())
    assert {t: m["rows"] for t, m in manifest["tables"].items()} == expected
    assert manifest["tables"]["fct_forecasts"]["partitioned_by"] == "metric"
    ddl = client.get_object(Bucket=BUCKET, Key="marts/_ddl/fct_forecasts.sql")["Body"].read().decode()
    assert f"LOCATION '{target}/fct_forecasts/'" in ddl and "PARTITIONED BY (`metric` string" in ddl
    assert "'projection.metric.values' = 'cpu,disk_io,memory,network'" in ddl

    again = capfc(*args, env=built_warehouse.env)
    assert " 0 objects written" in again.stdout and "0 stale removed" in again.stdout

    # A changed warehouse: one metric's forecasts gone. Its partition must go too, or Athena
    # would keep counting it; the object that is not ours stays.
    changed = tmp_path / "changed.duckdb"
    shutil.copy(built_warehouse.path, changed)
    with duckdb.connect(str(changed)) as db:
        db.execute("delete from main_marts.fct_forecasts where metric = 'network'")
        db.execute(
            "update main_marts.warehouse_meta set row_count = "
            "(select count(*) from main_marts.fct_forecasts) where table_name = 'fct_forecasts'"
        )
    third = capfc(*args, "--database", str(changed), env=built_warehouse.env)
    assert "1 stale removed" in third.stdout
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix="marts/")["Contents"]}
    assert (
        "marts/fct_forecasts/metric=network/part-0.parquet" not in keys and "marts/notes/readme.txt" in keys
    )
    read = con.sql(f"select count(*) from read_parquet('{target}/fct_forecasts/*/*.parquet')").fetchone()[0]
    assert read == warehouse_counts(changed)["fct_forecasts"]


def test_publish_to_a_folder_and_clear_errors(built_warehouse, tmp_path):
    out = tmp_path / "marts"
    capfc("publish", "--to", str(out), env=built_warehouse.env)
    with duckdb.connect() as con:
        for table, rows in warehouse_counts(built_warehouse.path).items():
            assert (
                con.sql(f"select count(*) from read_parquet('{out}/{table}/**/*.parquet')").fetchone()[0]
                == rows
            )
    assert (out / "_ddl" / "dim_dates.sql").read_text().startswith("CREATE EXTERNAL TABLE IF NOT EXISTS")

    missing = capfc("publish", "--to", str(out), "--database", str(tmp_path / "none.duckdb"), check=False)
    assert (
        missing.returncode == 2 and "no warehouse at" in missing.stderr and "Traceback" not in missing.stderr
    )
    bad = capfc("publish", "--to", "s3://Bad_Bucket/x", env=built_warehouse.env, check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_athena_types_and_ddl_quoting():
    assert athena_column("a", "VARCHAR").athena_type == "string"
    assert athena_column("a", "INTEGER").athena_type == "int"
    assert athena_column("a", "DECIMAL(18,3)").athena_type == "decimal(18,3)"
    assert athena_column("a", "TIMESTAMP WITH TIME ZONE").athena_type == "timestamp"
    assert athena_column("a", "DOUBLE[]").athena_type == "array<double>"
    odd = athena_column("a", "UUID")
    assert odd.athena_type == "string" and odd.select_expr.startswith("cast(")
    ddl = athena_ddl(
        "db", "t", "it's", [athena_column("x", "BIGINT", "a 'quoted' note")], "s3://b/p/t/", None, []
    )
    assert "COMMENT 'it\\'s'" in ddl and "COMMENT 'a \\'quoted\\' note'" in ddl and "PARTITIONED" not in ddl
