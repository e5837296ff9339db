"""Publishing the warehouse: releases behind a symlink (WAL safety), compaction, portability,
warehouse_meta, disk full, pooled SQLAlchemy readers."""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
from conftest import BIN, PROJECT_DIR, WAREHOUSE_ONLY, capfc

from capacity_forecaster.warehouse import BUILD_FILE, PUBLISHED_FILE, RELEASES_DIR, publish

pytestmark = pytest.mark.dbt


@pytest.fixture
def folder(built_warehouse, tmp_path, monkeypatch) -> Path:
    """A warehouse folder holding a copy of the session build file, nothing published yet."""
    folder = tmp_path / "warehouse"
    (folder / "build").mkdir(parents=True)
    shutil.copy(built_warehouse.path.parent / BUILD_FILE, folder / BUILD_FILE)
    monkeypatch.setenv("DBT_TARGET_PATH", built_warehouse.env["DBT_TARGET_PATH"])  # dbt's manifest
    return folder


def counts(database: Path) -> tuple[int, int]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.sql(
            "select (select count(*) from main_marts.fct_server_risk), "
            "(select count(*) from main_marts.dim_servers)"
        ).fetchone()


def releases(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / RELEASES_DIR).iterdir())


WRITER = textwrap.dedent("""
    import sys, duckdb
    con = duckdb.connect(sys.argv[1])  # read-write, left open with writes pending in its WAL
    con.execute("delete from main_marts.fct_server_risk")
    where = "select path from duckdb_databases() where database_name = current_database()"
    print(con.sql(where).fetchone()[0], flush=True)
    sys.stdin.readline()
    con.execute("checkpoint")
    con.execute("delete from main_marts.dim_servers")  # after a checkpoint the WAL is created again
    print("written again", flush=True)
    sys.stdin.readline()
    con.close()
""")


def test_a_writer_left_open_never_reaches_a_new_release(folder, tmp_path):
    published = publish(folder, PROJECT_DIR)
    expected = counts(published)
    assert expected[0] > 0 and expected[1] > 0
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(published)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        old_release = Path(writer.stdout.readline().strip())
        old_wal = Path(f"{old_release}.wal")
        assert old_release == published.resolve() and old_wal.stat().st_size > 0

        # Control: that WAL really empties fct_server_risk when it sits next to a file.
        control = tmp_path / "control" / PUBLISHED_FILE
        control.parent.mkdir()
        shutil.copy(old_release, control)
        shutil.copy(old_wal, f"{control}.wal")
        assert counts(control)[0] == 0
        # The old single-file layout's leftover: a WAL beside the published path itself.
        shutil.copy(old_wal, f"{published}.wal")

        publish(folder, PROJECT_DIR)
        assert published.resolve() != old_release
        assert counts(published) == expected
        assert not Path(f"{published}.wal").exists()
        assert old_release.exists() and old_wal.exists()  # its writer still has it open

        writer.stdin.write("go\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == "written again"
        assert counts(published) == expected
        writer.stdin.write("go\n")
        writer.stdin.flush()
        assert writer.wait(timeout=60) == 0
    finally:
        writer.kill()

    publish(folder, PROJECT_DIR)
    assert counts(published) == expected
    assert not old_release.parent.exists()  # pruned once nobody writes to it
    assert len(releases(folder)) == 1


def test_publish_compacts_a_bloated_build_file(folder):
    first = publish(folder, PROJECT_DIR).resolve().stat().st_size
    build = folder / BUILD_FILE
    before = build.stat().st_size
    # What rebuilds do to the build file: a table recreated after other data leaves its old
    # blocks free in the middle of the file, which a checkpoint cannot truncate away.
    rows = 2 * build.stat().st_size // 16  # random doubles do not compress: ~2x the file
    features = "main_intermediate.int_daily_features_computed"  # no constraints: same size again
    with duckdb.connect(str(build)) as con:
        con.execute(
            f"create table main_marts.scratch as select random() as a, random() as b from range({rows})"
        )
        con.execute("checkpoint")
        con.execute(f"create or replace table {features} as select * from {features}")
        con.execute("checkpoint")
        con.execute("drop table main_marts.scratch")
        con.execute("checkpoint")
        free_blocks = con.sql("pragma database_size").fetchone()[4]
    assert free_blocks > 0 and build.stat().st_size > before * 1.2
    second = publish(folder, PROJECT_DIR).resolve().stat().st_size
    assert abs(second - first) <= 0.02 * first, (first, second, build.stat().st_size)


def test_warehouse_meta_describes_the_release(folder, built_warehouse):
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    published = publish(folder, PROJECT_DIR)
    manifest = json.loads((Path(built_warehouse.env["DBT_TARGET_PATH"]) / "manifest.json").read_text())
    public = {n["name"] for n in manifest["nodes"].values() if n.get("access") == "public"}
    with duckdb.connect(str(published), read_only=True) as con:
        meta = con.sql("select * from main_marts.warehouse_meta").df()
        for row in meta.itertuples():
            assert (
                con.sql(f"select count(*) from {row.table_schema}.{row.table_name}").fetchone()[0]
                == row.row_count
            )
        assert con.sql("""
            select bool_and(data_through = (select max(metric_date) from main_marts.fct_server_daily_metrics))
               and bool_and(forecast_through = (select max(forecast_date) from main_marts.fct_forecasts))
            from main_marts.warehouse_meta
        """).fetchone()[0]
    assert set(meta.table_name) == public and {"dim_dates", "fct_champion_forecasts"} <= public
    assert meta.release_id.nunique() == 1 and meta.release_id[0] == published.resolve().parent.name
    assert (meta.run_id == manifest["metadata"]["invocation_id"]).all()
    assert started <= meta.published_at[0] <= dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert meta.duckdb_version[0] == duckdb.__version__ and meta.dbt_version[0].startswith("1.11")
    head = subprocess.run(
        ["git", "-C", str(PROJECT_DIR), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    if head.returncode == 0:
        assert meta.git_commit[0].startswith(head.stdout.strip())
    assert meta.description.str.len().gt(10).all()

    again = publish(folder, PROJECT_DIR)
    with duckdb.connect(str(again), read_only=True) as con:
        newer = con.sql(
            "select any_value(release_id), max(published_at) from main_marts.warehouse_meta"
        ).fetchone()
    assert newer[0] != meta.release_id[0] and newer[1] > meta.published_at[0]


PROBE = textwrap.dedent("""
    import json, sys, duckdb
    path = sys.argv[1]
    out = {}
    with duckdb.connect(path, read_only=True) as con:
        names = con.sql("select schema_name, table_name from duckdb_tables() union all "
                        "select schema_name, view_name from duckdb_views() where not internal").fetchall()
        for schema, name in names:
            out[f"{schema}.{name}"] = con.sql(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
    with duckdb.connect() as con:  # attached under an alias, as another tool would
        con.execute(f"attach '{path}' as elsewhere (read_only)")
        for key in [k for k in out if k.startswith(("main_staging.", "main_intermediate.int_metrics"))]:
            assert con.sql(f"select count(*) from elsewhere.{key}").fetchone()[0] == out[key], key
    print(json.dumps(out))
""")


def test_every_object_works_from_another_folder_and_under_another_name(
    folder, built_warehouse, small_fleet, tmp_path
):
    # Recreate the raw-file views the way dbt does with a relative raw_root (the default,
    # data/raw, is relative): their SQL then holds a relative path and the catalog name.
    raw = os.path.relpath(built_warehouse.raw, PROJECT_DIR)
    done = subprocess.run(
        [
            str(BIN / "dbt"),
            "run",
            "--profiles-dir",
            "profiles",
            "--vars",
            f"{{raw_root: '{raw}'}}",
            "--select",
            "stg_raw__servers",
            "stg_raw__metrics_hourly",
            "int_metrics_hourly_checked",
        ],
        cwd=PROJECT_DIR,
        env={
            **os.environ,
            **built_warehouse.env,
            "CAPFC_DUCKDB_PATH": str(folder / BUILD_FILE),
            "DBT_TARGET_PATH": str(tmp_path / "target"),
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    with duckdb.connect(str(folder / BUILD_FILE), read_only=True) as con:
        build_views = " ".join(
            sql for (sql,) in con.sql("select sql from duckdb_views() where not internal").fetchall()
        )
    assert f"read_parquet('{raw}/" in build_views and "capacity_forecaster.main_staging." in build_views

    published = publish(folder, PROJECT_DIR)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    copy = elsewhere / "planning_snapshot.duckdb"
    shutil.copy(published, copy)  # follows the symlink: the release itself, under another name
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, copy.name], cwd=elsewhere, capture_output=True, text=True, timeout=300
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    seen = json.loads(probe.stdout)
    with duckdb.connect(str(published), read_only=True) as con:
        assert (
            seen["main_marts.dim_servers"]
            == con.sql("select count(*) from main_marts.dim_servers").fetchone()[0]
        )
        assert (
            len(seen)
            == con.sql(
                "select (select count(*) from duckdb_tables()) "
                "+ (select count(*) from duckdb_views() where not internal)"
            ).fetchone()[0]
        )
    assert seen["main_staging.stg_raw__metrics_hourly"] == small_fleet.result.metrics_rows
    assert seen["main_intermediate.int_metrics_hourly_checked"] == small_fleet.result.metrics_rows
    assert seen["main_staging.stg_raw__servers"] == seen["main_marts.dim_servers"]


def _limit_file_size() -> None:
    limit = 2 * 1024 * 1024  # the release copy needs far more; Python ignores SIGXFSZ -> EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_publish_that_cannot_write_fails_in_one_line_and_leaves_nothing(folder, built_warehouse):
    env = {**os.environ, **built_warehouse.env, "CAPFC_WAREHOUSE_DIR": str(folder)}
    capfc("publish", env=env)
    first, expected = releases(folder), counts(folder / PUBLISHED_FILE)

    failed = subprocess.run(
        [str(BIN / "capfc"), "publish"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=_limit_file_size,
        timeout=300,
    )
    assert failed.returncode == 2
    assert len(failed.stderr.strip().splitlines()) == 1 and "Traceback" not in failed.stderr
    assert "publishing failed" in failed.stderr and "unchanged" in failed.stderr
    assert releases(folder) == first and counts(folder / PUBLISHED_FILE) == expected
    assert sorted(p.name for p in folder.iterdir()) == [".build.lock", "build", PUBLISHED_FILE, RELEASES_DIR]

    capfc("publish", env=env)
    assert releases(folder) != first and len(releases(folder)) == 1
    assert counts(folder / PUBLISHED_FILE) == expected


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs of a chosen size (root only; the RLIMIT test above covers other machines)."""
    mount = tmp_path / "disk"
    mount.mkdir()

    def resize(mib: int) -> None:
        options = f"size={mib}m" if not os.path.ismount(mount) else f"remount,size={mib}m"
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)], capture_output=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")

    yield mount, resize
    if os.path.ismount(mount):
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_at_publish_then_the_next_build_recovers(folder, built_warehouse, small_disk):
    mount, resize = small_disk
    build_mib = (folder / BUILD_FILE).stat().st_size / 2**20
    release_mib = publish(folder, PROJECT_DIR).resolve().stat().st_size / 2**20
    resize(int(build_mib + release_mib) + 3)  # room for the build and one release, not two
    wh = mount / "warehouse"
    (wh / "build").mkdir(parents=True)
    shutil.copy(folder / BUILD_FILE, wh / BUILD_FILE)
    env = {**built_warehouse.env, "CAPFC_WAREHOUSE_DIR": str(wh)}
    capfc("publish", env=env)
    first, expected = releases(wh), counts(wh / PUBLISHED_FILE)

    full = capfc("publish", env=env, check=False)
    assert full.returncode == 2, full.stdout + full.stderr
    assert full.stderr.strip().count("\n") == 0 and "no space left" in full.stderr, full.stderr
    assert releases(wh) == first and counts(wh / PUBLISHED_FILE) == expected
    assert not [p for p in wh.rglob("*") if ".tmp" in p.name or p.name == ".spill"]

    resize(int(4 * (build_mib + release_mib)))  # space freed: a real rebuild publishes again
    capfc("build", "--raw-root", str(built_warehouse.raw), *WAREHOUSE_ONLY, env=env)
    assert releases(wh) != first and len(releases(wh)) == 1
    assert counts(wh / PUBLISHED_FILE) == expected
    rebuilt_mib = (wh / PUBLISHED_FILE).resolve().stat().st_size / 2**20
    assert abs(rebuilt_mib - release_mib) <= 0.05 * release_mib  # compacted: stable across rebuilds


RELEASE_ID = "select any_value(release_id) from main_marts.warehouse_meta"


def test_pooled_reader_engine_sees_each_new_build(folder):
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from capacity_forecaster.bi import reader_engine

    published = publish(folder, PROJECT_DIR)
    engine = reader_engine(published, pool_size=2)
    read_only = {"connect_args": {"read_only": True}}
    plain = create_engine(f"duckdb:///{published}", **read_only)
    # The README's alternatives for other SQLAlchemy applications.
    unpooled = create_engine(f"duckdb:///{published}", poolclass=NullPool, **read_only)
    recycled = create_engine(f"duckdb:///{published}", pool_recycle=1, **read_only)
    with engine.connect() as con:
        old = con.execute(text(RELEASE_ID)).scalar()
    for other in (plain, unpooled, recycled):
        with other.connect() as con:
            assert con.execute(text(RELEASE_ID)).scalar() == old
    held = engine.connect()  # a long query or open notebook cursor across the publish
    assert held.execute(text(RELEASE_ID)).scalar() == old

    publish(folder, PROJECT_DIR)
    with engine.connect() as one, engine.connect() as two:
        new = one.execute(text(RELEASE_ID)).scalar()
        assert new != old and two.execute(text(RELEASE_ID)).scalar() == new
    assert held.execute(text(RELEASE_ID)).scalar() == old  # an open connection keeps its snapshot
    held.close()
    with engine.connect() as con:
        assert con.execute(text(RELEASE_ID)).scalar() == new
    with unpooled.connect() as con:
        assert con.execute(text(RELEASE_ID)).scalar() == new
    time.sleep(1.1)
    with recycled.connect() as con:
        assert con.execute(text(RELEASE_ID)).scalar() == new
    with plain.connect() as con:  # the failure mode the README warns about: a plain pool stays behind
        assert con.execute(text(RELEASE_ID)).scalar() == old
    for each in (engine, plain, unpooled, recycled):
        each.dispose()


def test_view_sql_made_portable():
    from capacity_forecaster.release import portable_view_sql

    sql = (
        'CREATE VIEW main_staging.v AS SELECT * FROM "capacity_forecaster".main_staging.a '
        "JOIN capacity_forecaster.main_marts.b USING (k), read_parquet('data/raw/x/*.parquet'), "
        "read_csv('s3://bucket/raw/y.csv'), read_parquet('/abs/z.parquet') "
        "WHERE note = 'capacity_forecaster.main_staging.a stays text'"
    )
    out = portable_view_sql(sql, "capacity_forecaster", {"main_staging", "main_marts"}, Path("/project"))
    assert out.startswith("create or replace view main_staging.v AS SELECT * FROM main_staging.a ")
    assert "JOIN main_marts.b" in out and "read_parquet('/project/data/raw/x/*.parquet')" in out
    assert "read_csv('s3://bucket/raw/y.csv')" in out and "read_parquet('/abs/z.parquet')" in out
    assert "'capacity_forecaster.main_staging.a stays text'" in out
