"""The static report: public marts only, escaping, every history renders (no quarter end, one
day, nothing at risk, empty backtests, servers without sizes), flags changed since the
previous run, and the page in real Chromium (console, charts, fonts, sort and filter)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from html import unescape as html_unescape
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from conftest import WAREHOUSE_ONLY, Warehouse, capfc, isolated_env
from markupsafe import escape

from capacity_forecaster.generator import FleetSpec, generate_fleet
from capacity_forecaster.report import browser, render_report

pytestmark = pytest.mark.dbt
HOSTILE = "<script>alert('x')</script>"
ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
NOW = dt.datetime(2030, 1, 1, 6, 0)
PROBE = (Path(__file__).parent / "report_probe.js").read_text()
SERVER_TABLES = (
    "dim_servers",
    "fct_server_summary",
    "fct_server_risk",
    "fct_capacity_risk",
    "fct_breach_probabilities",
    "fct_forecasts",
    "fct_champion_forecasts",
    "fct_server_daily_metrics",
    "fct_risk_history",
)


def copy_warehouse(built: Warehouse, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "capacity_forecaster.duckdb"
    shutil.copy(built.path, database)
    return database


def at_risk_servers(database: Path) -> set[str]:
    with duckdb.connect(str(database), read_only=True) as con:
        return {
            s
            for (s,) in con.sql(
                "select server_id from main_marts.fct_server_summary "
                "where breaching_since_date is not null or first_likely_breach_date is not null"
            ).fetchall()
        }


def visible_text(page: Path) -> str:
    text = page.read_text()
    text = re.sub(r"<(script|style|title)[^>]*>.*?</\1>", " ", text, flags=re.S)
    return re.sub(r"<[^>]+>", " ", text)


@pytest.fixture(scope="module")
def hostile(built_warehouse, tmp_path_factory):
    """A copy where an at-risk server is renamed `<script>...` in every mart, so every section
    draws it and escaping is exercised everywhere."""
    database = copy_warehouse(built_warehouse, tmp_path_factory.mktemp("hostile"))
    victim = sorted(at_risk_servers(database))[0]
    with duckdb.connect(str(database)) as con:
        for table in SERVER_TABLES:
            con.execute(f"update main_marts.{table} set server_id = ? where server_id = ?", [HOSTILE, victim])
    return database


@pytest.fixture(scope="module")
def report(hostile, tmp_path_factory):
    return render_report(hostile, tmp_path_factory.mktemp("report"), now=NOW)


def test_the_small_fleet_has_servers_at_risk(built_warehouse):
    # The fixture must exercise the at-risk sections; a quiet fleet would make them vacuous.
    assert at_risk_servers(built_warehouse.path)


def test_report_sections_and_every_at_risk_server_drawn(report, hostile):
    html = report.index.read_text()
    for anchor in (
        "summary",
        "changes",
        "breaching-now",
        "will-breach",
        "capacity",
        "risk-heatmap",
        "quarterly-trend",
        "consolidation",
        "calibration",
        "accuracy",
        "quarantine-table",
    ):
        assert f'id="{anchor}"' in html, anchor
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html and "<link" not in html  # self-contained
    drawn = set(re.findall(r'class="at-risk-chart" data-server="([^"]*)"', html))
    expected = {str(escape(s)) for s in at_risk_servers(hostile)}
    assert drawn == expected and report.at_risk_servers == len(expected)
    assert report.charts >= len(expected)
    assert html.count('class="quarterly-chart"') >= 4  # one per metric
    eda = report.eda.read_text()
    assert 'id="correlation-heatmap"' in eda and eda.count("<svg") >= 5


def test_at_risk_sections_are_separate_and_sorted(report, hostile):
    html = report.index.read_text()
    with duckdb.connect(str(hostile), read_only=True) as con:
        now = con.sql(
            "select server_id from main_marts.fct_server_summary where breaching_since_date is not null "
            "order by breaching_since_date, server_id"
        ).fetchall()
        soon = con.sql(
            "select server_id, first_likely_breach_date from main_marts.fct_server_summary "
            "where breaching_since_date is null and first_likely_breach_date is not null "
            "order by first_likely_breach_date, server_id"
        ).fetchall()
    if soon:
        table = html.split('id="will-breach-table"')[1].split("</table>")[0]
        dates = re.findall(r'<td class="nowrap" data-sort="(\d{4}-\d{2}-\d{2})">', table)
        assert dates == sorted(dates) and len(dates) == len(soon)
        assert dates == [d.isoformat() for _, d in soon]
    if now:
        table = html.split('id="breaching-now-table"')[1].split("</table>")[0]
        assert table.split("<tbody>")[1].count("<tr>") == len(now)
        assert "will-breach-table" not in table


def test_will_breach_rows_show_the_30_day_probability(report, hostile):
    """Each will-breach row carries P(breach) of the shorter window from fct_server_risk."""
    html = report.index.read_text()
    with duckdb.connect(str(hostile), read_only=True) as con:
        expected = dict(
            con.sql(
                "select server_id, p_breach_high from main_marts.fct_server_risk where window_days = 30"
            ).fetchall()
        )
    if 'id="will-breach-table"' not in html:
        pytest.skip("no server will breach in this fleet")
    assert "P 30 d</th>" in html
    body = html.split('id="will-breach-table"')[1].split("<tbody>")[1].split("</tbody>")[0]
    rows = [r for r in body.split("<tr>") if "<td" in r]
    assert rows
    for row in rows:
        server = html_unescape(re.search(r'<td class="nowrap">([^<]*)</td>', row).group(1))
        sorts = re.findall(r'data-sort="([^"]*)"', row)
        p30 = expected[server]
        assert (sorts[4] == "") if p30 is None else abs(float(sorts[4]) - p30) < 1e-9, (server, sorts)


def test_values_from_data_are_escaped(report):
    html = report.index.read_text() + report.eda.read_text()
    assert HOSTILE not in html
    assert html.count(ESCAPED) >= 4  # table, chart caption, chart title, EDA sample


def test_report_reads_only_public_marts(built_warehouse, tmp_path):
    """Dropping every other schema changes nothing in the report."""
    full = render_report(built_warehouse.path, tmp_path / "full", now=NOW)
    database = copy_warehouse(built_warehouse, tmp_path / "public")
    with duckdb.connect(str(database)) as con:
        schemas = [
            s
            for (s,) in con.sql(
                "select distinct schema_name from duckdb_tables() where schema_name <> 'main_marts' "
                "union select distinct schema_name from duckdb_views() where not internal "
                "and schema_name <> 'main_marts'"
            ).fetchall()
        ]
        assert schemas, "the warehouse should hold private schemas to drop"
        for schema in schemas:
            con.execute(f'drop schema "{schema}" cascade')
    public = render_report(database, tmp_path / "out", now=NOW)
    assert public.index.read_text() == full.index.read_text()
    assert public.eda.read_text() == full.eda.read_text()


def test_historical_data_is_called_historical(built_warehouse, tmp_path):
    result = render_report(built_warehouse.path, tmp_path, now=NOW)
    html = result.index.read_text()
    with duckdb.connect(str(built_warehouse.path), read_only=True) as con:
        through, published = con.sql(
            "select max(data_through), max(published_at) from main_marts.warehouse_meta"
        ).fetchone()
    age = (published.date() - through).days
    assert f'<b id="data-through">{through:%Y-%m-%d}</b>' in html
    assert f"is {age:,} days older than this build" in html and "Historical data" in html
    assert "4836 d" not in html and " d</b>" not in html


def test_flags_changed_since_the_previous_run(built_warehouse, tmp_path):
    """A previous run in fct_risk_history where one at-risk server was normal (new), one normal
    server was at risk (cleared) and one at-risk server was a class lower (escalated)."""
    database = copy_warehouse(built_warehouse, tmp_path / "runs")
    with duckdb.connect(str(database)) as con:
        window = con.sql("select max(window_days) from main_marts.fct_risk_history").fetchone()[0]
        current = dict(
            con.execute(
                "select server_id, risk_class from main_marts.fct_risk_history where window_days = ?",
                [window],
            ).fetchall()
        )
        risky = sorted(s for s, c in current.items() if c in ("high_risk", "very_high_risk"))
        quiet = sorted(s for s, c in current.items() if c in ("normal", "underutilized"))
        very_high = sorted(s for s, c in current.items() if c == "very_high_risk")
        assert risky and quiet
        new, cleared = risky[0], quiet[0]
        con.execute(
            "insert into main_marts.fct_risk_history select 'previous-run' as run_id, * exclude (run_id) "
            "replace (recorded_at - interval 1 day as recorded_at) from main_marts.fct_risk_history"
        )
        con.execute(
            "update main_marts.fct_risk_history set risk_class = 'normal', risk_state = 'normal' "
            "where run_id = 'previous-run' and server_id = ?",
            [new],
        )
        con.execute(
            "update main_marts.fct_risk_history set risk_class = 'high_risk', risk_state = 'forecast_breach' "
            "where run_id = 'previous-run' and server_id = ?",
            [cleared],
        )
        escalated = next((s for s in very_high if s != new), None)
        if escalated:
            con.execute(
                "update main_marts.fct_risk_history set risk_class = 'high_risk' "
                "where run_id = 'previous-run' and server_id = ?",
                [escalated],
            )
    html = render_report(database, tmp_path / "out", now=NOW).index.read_text()
    table = html.split('id="changes-table"')[1].split("</table>")[0]
    rows = dict(re.findall(r"<tr><td>([^<]*)</td><td><b>(\w+)</b>", table))
    expected = {new: "new", cleared: "cleared"} | ({escalated: "escalated"} if escalated else {})
    assert rows == expected


# --- any history -------------------------------------------------------------------------------


def build_fleet(root: Path, spec: FleetSpec, sizes: bool = True, *build_args: str) -> Warehouse:
    raw = root / "raw"
    generate_fleet(spec, raw, root / "truth")
    if not sizes:  # an imported inventory: no vcpus / memory_gb at all
        path = raw / "inventory" / "servers.parquet"
        table = pq.read_table(path)
        sized = [c for c in ("vcpus", "memory_gb") if c in table.column_names]
        pq.write_table(table.drop_columns(sized), path)
    env = isolated_env(root)
    capfc("--vars", "{eda_pattern_severity: warn}", "build", "--raw-root", str(raw), *build_args, env=env)
    return Warehouse(root / "warehouse" / "capacity_forecaster.duckdb", env, raw)


@pytest.fixture(scope="module")
def mid_quarter(tmp_path_factory) -> Warehouse:
    """Six weeks inside a quarter (no quarter-end day), servers imported without sizes."""
    spec = FleetSpec(servers=8, days=45, start=dt.date(2024, 4, 3), seed=11)
    return build_fleet(tmp_path_factory.mktemp("mid_quarter"), spec, False)


@pytest.fixture(scope="module")
def one_day(tmp_path_factory) -> Warehouse:
    """A single day. The forecasting and risk models cannot run on it (the build stops in
    their backtests), so this is the SQL layer alone: a partial build the report must read."""
    spec = FleetSpec(servers=5, days=1, start=dt.date(2024, 5, 14), seed=5)
    return build_fleet(tmp_path_factory.mktemp("one_day"), spec, True, *WAREHOUSE_ONLY)


def assert_renders(database: Path, out: Path):
    result = render_report(database, out, now=NOW)
    for page in (result.index, result.eda):
        text = visible_text(page)
        assert "None" not in text and "nan" not in text.split(), page.name
    return result


def test_history_without_a_quarter_end_and_without_sizes(mid_quarter, tmp_path):
    with duckdb.connect(str(mid_quarter.path), read_only=True) as con:
        assert not con.sql(
            "select bool_or(d.is_end_of_quarter) from main_marts.fct_server_daily_metrics m "
            "join main_marts.dim_dates d on d.calendar_date = m.metric_date"
        ).fetchone()[0]
        assert not con.sql("select bool_or(is_size_known) from main_marts.fct_server_summary").fetchone()[0]
        backtests = con.sql("select count(*) from main_marts.fct_risk_backtest").fetchone()[0]
    result = assert_renders(mid_quarter.path, tmp_path)
    html, eda = result.index.read_text(), result.eda.read_text()
    assert "no day in a quarter-end window" in eda
    assert html.count('class="quarterly-chart"') == 4
    if backtests == 0:
        assert "No risk-flag backtest yet: the history has" in html
    at_risk = at_risk_servers(mid_quarter.path)
    if at_risk:  # sizes unknown: the add is a percentage and says why there are no units
        assert "(size unknown)" in html
    assert "size unknown" in html


def test_single_day_partial_build(one_day, tmp_path):
    result = assert_renders(one_day.path, tmp_path)
    html = result.index.read_text()
    assert "Partial build: " in html and "fct_server_summary" in html.split("Partial build: ")[1][:400]
    assert "fct_risk_backtest is not in this warehouse (partial build)" in html
    assert "fct_forecast_champions is not in this warehouse (partial build)" in html
    assert 'id="data-through">2024-05-14<' in html and html.count('class="quarterly-chart"') == 4
    assert "No server is above its high threshold" in html


def test_no_server_at_risk(built_warehouse, tmp_path):
    database = copy_warehouse(built_warehouse, tmp_path / "quiet")
    with duckdb.connect(str(database)) as con:
        columns = [
            c
            for (c,) in con.sql(
                "select column_name from duckdb_columns() where table_name = 'fct_server_summary'"
            ).fetchall()
        ]
        cleared = [c for c in columns if c.endswith(("breaching_since_date", "first_likely_breach_date"))]
        states = [c for c in columns if c.endswith(("_risk_state", "_risk_class"))]
        con.execute(
            "update main_marts.fct_server_summary set "
            + ", ".join(f"{c} = null" for c in cleared)
            + ", "
            + ", ".join(f"{c} = 'normal'" for c in states)
            + ", metrics_at_risk = 0, at_risk_metrics = null, days_to_breach = null"
        )
        con.execute(
            "update main_marts.fct_capacity_risk set risk_state = 'normal', risk_class = 'normal' "
            "where risk_state in ('breaching_now', 'forecast_breach')"
        )
    result = assert_renders(database, tmp_path / "out")
    html = result.index.read_text()
    assert result.at_risk_servers == 0 and "at-risk-chart" not in html
    assert "No server is above its high threshold on" in html
    assert "No server is forecast to cross its high threshold within" in html
    assert "No at-risk server: nothing to add." in html


def test_empty_backtest_marts_say_why(built_warehouse, tmp_path):
    database = copy_warehouse(built_warehouse, tmp_path / "nobacktest")
    with duckdb.connect(str(database)) as con:
        for table in ("fct_risk_backtest", "fct_backtest_metrics", "fct_forecast_champions"):
            con.execute(f"delete from main_marts.{table}")
    html = assert_renders(database, tmp_path / "out").index.read_text()
    assert "No risk-flag backtest yet: the history has" in html
    assert "No forecast backtest yet: the history has" in html
    assert 'id="reliability-chart"' not in html


# --- real browser ------------------------------------------------------------------------------


NO_CHROMIUM = "Chromium not installed (make test installs it)"


@pytest.mark.skipif(browser.chromium_binary() is None, reason=NO_CHROMIUM)
def test_report_in_headless_chromium(report, hostile, tmp_path):
    control = tmp_path / "control.html"
    control.write_text("<html><body><script>throw new Error('control failure')</script></body></html>")
    _, control_log = browser.run(control.as_uri(), tmp_path / "profile")
    assert browser.console_errors(control_log), "console error detection must see a thrown error"

    for page in (report.index, report.eda):
        dom, log = browser.run(page.as_uri(), tmp_path / "profile")
        assert "<svg" in dom and "<table" in dom
        assert not browser.console_errors(log), browser.console_errors(log)

    dom, log = browser.run(browser.probe_page(report.index, PROBE).as_uri(), tmp_path / "profile")
    assert not browser.console_errors(log), browser.console_errors(log)
    probe = browser.probe_result(dom)
    assert not probe["errors"], probe["errors"]
    assert probe["min_svg_font_px"] >= 11, probe["min_svg_font_px"]
    drawn = {server for server, _ in probe["charts"]}
    with duckdb.connect(str(hostile), read_only=True) as con:
        now, soon = (
            [
                s
                for (s,) in con.sql(
                    f"select server_id from main_marts.fct_server_summary where {w}"
                ).fetchall()
            ]
            for w in (
                "breaching_since_date is not null",
                "breaching_since_date is null and first_likely_breach_date is not null",
            )
        )
    listed = probe["table_servers"]
    assert sorted(listed["breaching-now-table"]) == sorted(now)  # exactly the mart's servers
    assert sorted(listed["will-breach-table"]) == sorted(soon)
    assert drawn == at_risk_servers(hostile)  # decoded by the browser: the real names
    sections = ("summary", "changes", "breaching-now", "will-breach", "capacity", "quarterly", "calibration")
    for section in sections:
        assert section in probe["sections"], section
    sortable = {k: v for k, v in probe["tables"].items() if k in ("breaching-now-table", "will-breach-table")}
    assert sortable, probe["tables"].keys()
    for table, result in sortable.items():
        for column in ("Server", "Days"):
            assert result["columns"][column]["ascending"], (table, column)
            assert result["columns"][column]["descending"], (table, column)
        assert 1 <= result["filtered_visible"] < result["rows"] or result["rows"] == 1
        assert result["unfiltered_visible"] == result["rows"]

    shot = tmp_path / "report.png"
    browser.run(report.index.as_uri(), tmp_path / "profile", screenshot=shot, window=(1280, 2400))
    assert shot.stat().st_size > 50_000
