"""BI readers across a rebuild and dbt docs. The report's tests are in test_report.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import duckdb
import pytest
from conftest import BIN, PROJECT_DIR, WAREHOUSE_ONLY, capfc

pytestmark = pytest.mark.dbt


READER = textwrap.dedent("""
    import sys
    from sqlalchemy import create_engine, text
    engine = create_engine("duckdb:///" + sys.argv[1], connect_args={"read_only": True})
    with engine.connect() as con:
        query = text("select count(*) from main_marts.fct_load_reconciliation")
        print("before", con.execute(query).scalar(), flush=True)
        sys.stdin.readline()  # hold the connection open through the rebuild
        print("during", con.execute(query).scalar(), flush=True)
""")


def test_bi_reader_never_blocks_a_build_and_then_sees_new_marts(built_warehouse, small_fleet, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(built_warehouse.raw, raw)
    newest = sorted((raw / "metrics").iterdir())[-1]
    held = tmp_path / newest.name
    shutil.move(newest, held)
    env = {
        **built_warehouse.env,
        "CAPFC_WAREHOUSE_DIR": str(tmp_path / "warehouse"),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
    }
    capfc("build", "--raw-root", str(raw), *WAREHOUSE_ONLY, env=env)
    published = tmp_path / "warehouse" / "capacity_forecaster.duckdb"

    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(published)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    before = int(reader.stdout.readline().split()[1])
    shutil.move(held, raw / "metrics" / newest.name)
    capfc("build", "--raw-root", str(raw), *WAREHOUSE_ONLY, env=env)  # must not fail on the reader
    reader.stdin.write("go\n")
    reader.stdin.flush()
    during = int(reader.stdout.readline().split()[1])
    assert reader.wait(timeout=30) == 0
    assert during == before  # an open reader keeps its consistent snapshot
    with duckdb.connect(str(published), read_only=True) as con:
        after = con.sql("select count(*) from main_marts.fct_load_reconciliation").fetchone()[0]
    assert after == before + 1  # a new connection sees the new build


def test_dbt_docs_generate(built_warehouse, tmp_path):
    env = {
        **os.environ,
        **built_warehouse.env,
        "CAPFC_DUCKDB_PATH": str(built_warehouse.path.parent / "build" / "capacity_forecaster.duckdb"),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
    }
    done = subprocess.run(
        [
            str(BIN / "dbt"),
            "docs",
            "generate",
            "--profiles-dir",
            "profiles",
            "--vars",
            f"{{raw_root: '{built_warehouse.raw}'}}",
        ],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    catalog = (tmp_path / "target" / "catalog.json").read_text()
    assert "fct_forecasts" in catalog and "fct_capacity_risk" in catalog
