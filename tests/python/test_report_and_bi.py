"""The static report (escaping, real browser render) and BI readers across a rebuild."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import duckdb
import pytest
from conftest import BIN, PROJECT_DIR, WAREHOUSE_ONLY, capfc

from capacity_forecaster.report import render_report

pytestmark = pytest.mark.dbt
HOSTILE = "<script>alert('x')</script>"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report(built_warehouse, tmp_path_factory):
    """A copy of the warehouse where one live server is forced at risk and renamed with a
    hostile name, so every section renders and escaping is exercised everywhere."""
    work = tmp_path_factory.mktemp("report")
    database = work / "hostile.duckdb"
    shutil.copy(built_warehouse.path, database)
    with duckdb.connect(str(database)) as con:
        victim = con.sql(
            "select min(server_id) from main_marts.dim_servers "
            "where not is_short_history and not is_decommissioned"
        ).fetchone()[0]
        con.execute(
            "update main_marts.fct_server_risk set risk_class = 'very_high_risk', "
            "recommended_action = 'immediate upgrade' where server_id = ?",
            [victim],
        )
        for table in (
            "dim_servers",
            "fct_server_risk",
            "fct_capacity_risk",
            "fct_forecasts",
            "fct_server_daily_metrics",
        ):
            con.execute(f"update main_marts.{table} set server_id = ? where server_id = ?", [HOSTILE, victim])
    return render_report(database, work / "out")


def test_report_sections_present(report):
    html = report.index.read_text()
    for anchor in (
        "at-risk-table",
        "risk-heatmap",
        "quarterly-trend",
        "accuracy-table",
        "champions-table",
        "risk-backtest",
        "quarantine-table",
    ):
        assert f'id="{anchor}"' in html, anchor
    assert html.count("<svg") >= 2 and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    eda = report.eda.read_text()
    assert 'id="correlation-heatmap"' in eda and eda.count("<svg") >= 5


def test_values_from_data_are_escaped(report):
    html = report.index.read_text() + report.eda.read_text()
    assert HOSTILE not in html
    escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
    assert html.count(escaped) >= 3  # at-risk table, chart caption and title, EDA sample


def chromium(url: str, tmp_path, screenshot=None) -> tuple[str, str]:
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1280,4000",
        "--virtual-time-budget=3000",
    ]
    command += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    done = subprocess.run([*command, url], capture_output=True, text=True, timeout=120, check=False)
    return done.stdout, done.stderr


def console_errors(stderr: str) -> list[str]:
    return [
        line for line in stderr.splitlines() if "CONSOLE" in line and ("Uncaught" in line or "Error" in line)
    ]


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (CI installs Debian's chromium)")
def test_report_renders_in_headless_chromium(report, tmp_path):
    control = tmp_path / "control.html"
    control.write_text("<html><body><script>throw new Error('control failure')</script></body></html>")
    _, control_log = chromium(control.as_uri(), tmp_path)
    assert console_errors(control_log), "console error detection must see a thrown error"

    for page in (report.index, report.eda):
        dom, log = chromium(page.as_uri(), tmp_path)
        assert "<svg" in dom and "<table" in dom
        assert not console_errors(log), console_errors(log)
    shot = tmp_path / "report.png"
    chromium(report.index.as_uri(), tmp_path, screenshot=shot)
    assert shot.stat().st_size > 20_000


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
