"""BI access to the published warehouse: SQLAlchemy reflection of every public mart, declared
primary keys that the database enforces, exposures on public tables only."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.dbt

# The lead is redesigning these; their keys and YAML are theirs to declare.
NEW_MARTS = {"dim_dates", "dim_risk_thresholds", "fct_fleet_daily_summary", "fct_champion_forecasts"}


@pytest.fixture(scope="module")
def manifest(built_warehouse) -> dict:
    return json.loads((Path(built_warehouse.env["DBT_TARGET_PATH"]) / "manifest.json").read_text())


@pytest.fixture(scope="module")
def public_marts(manifest) -> dict[str, dict]:
    return {
        n["name"]: n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n.get("access") == "public"
    }


@pytest.mark.filterwarnings("ignore:duckdb-engine doesn't yet support reflection on indices")
def test_sqlalchemy_reflects_and_autoloads_every_public_mart(built_warehouse, public_marts):
    from sqlalchemy import MetaData, Table, create_engine, func, inspect, select
    from sqlalchemy.types import NullType

    names = sorted(public_marts | {"warehouse_meta": {}})
    with duckdb.connect(str(built_warehouse.path), read_only=True) as con:  # closed before the engine
        catalog = con.sql(
            "select table_name, column_name, data_type, comment from duckdb_columns() "
            "where schema_name = 'main_marts' order by table_name, column_index"
        ).fetchall()
        counts = {name: con.sql(f"select count(*) from main_marts.{name}").fetchone()[0] for name in names}
    engine = create_engine(f"duckdb:///{built_warehouse.path}", connect_args={"read_only": True})
    inspector = inspect(engine)
    assert set(names) <= set(inspector.get_table_names(schema="main_marts"))
    metadata = MetaData()
    with engine.connect() as con:
        for name in names:
            expected = [(c, t, comment) for table, c, t, comment in catalog if table == name]
            columns = inspector.get_columns(name, schema="main_marts")
            assert [c["name"] for c in columns] == [c for c, _, _ in expected], name
            for column, (_, duckdb_type, comment) in zip(columns, expected, strict=True):
                assert not isinstance(column["type"], NullType), (name, column["name"], duckdb_type)
                if name != "fct_consolidation_groups":  # a Python model: no contract, no comments
                    assert column["comment"] and column["comment"] == comment, (name, column["name"])
            table = Table(name, metadata, schema="main_marts", autoload_with=engine)
            assert [c.name for c in table.columns] == [c["name"] for c in columns]
            rows = con.execute(select(func.count()).select_from(table)).scalar()
            assert rows == counts[name], name
            con.execute(select(table).limit(3)).fetchall()
    engine.dispose()


def test_public_sql_marts_declare_enforced_primary_keys(public_marts, built_warehouse, tmp_path):
    sql_marts = {name: node for name, node in public_marts.items() if node["language"] == "sql"}
    assert set(sql_marts) >= NEW_MARTS
    keyed = sql_marts
    with duckdb.connect(str(built_warehouse.path), read_only=True) as con:
        keys = {
            table: columns
            for table, columns in con.sql(
                "select table_name, constraint_column_names from duckdb_constraints() "
                "where schema_name = 'main_marts' and constraint_type = 'PRIMARY KEY'"
            ).fetchall()
        }
    for name, node in keyed.items():
        assert node["config"]["contract"]["enforced"], name
        assert node["config"]["materialized"] in ("table", "incremental"), name
        declared = [c["columns"] for c in node["constraints"] if c["type"] == "primary_key"]
        assert len(declared) == 1, f"{name} declares no primary key"
        if name != "fct_risk_history":  # incremental: keys reach an existing table on full refresh
            assert keys[name] == declared[0], name
        for column in node["columns"].values():
            assert column.get("data_type") and len(column.get("description", "").split()) >= 3, (
                name,
                column["name"],
            )

    # Enforced, not just documented: a duplicate key is refused.
    copy = tmp_path / "copy.duckdb"
    shutil.copy(built_warehouse.path, copy)
    with duckdb.connect(str(copy)) as con:
        for name in sorted(NEW_MARTS):
            with pytest.raises(duckdb.ConstraintException):
                con.execute(f"insert into main_marts.{name} select * from main_marts.{name} limit 1")


def test_exposures_depend_only_on_public_tables(manifest):
    for exposure in manifest["exposures"].values():
        for node_id in exposure["depends_on"]["nodes"]:
            node = manifest["nodes"][node_id]
            assert node.get("access") == "public", (exposure["name"], node_id)
            assert node["config"]["materialized"] in ("table", "incremental"), (exposure["name"], node_id)


def test_new_bi_marts_answer_planner_questions(built_warehouse):
    dates = built_warehouse.query("select * from main_marts.dim_dates order by calendar_date")
    horizon = built_warehouse.query(
        "select max(forecast_date) as last from main_marts.fct_champion_forecasts"
    )
    assert (
        dates.calendar_date.is_monotonic_increasing
        and dates.calendar_date.diff().dropna().dt.days.eq(1).all()
    )
    assert dates.calendar_date.iloc[-1] >= horizon["last"][0]  # history + forecast horizon
    assert (dates.quarter_start_date <= dates.calendar_date).all()
    assert (dates.calendar_date <= dates.quarter_end_date).all()

    check = built_warehouse.query("""
        select
            (select count(*) from main_marts.fct_champion_forecasts)
              = (select count(*) from main_marts.fct_forecasts where is_champion) as champions_match,
            (select count(*) from main_marts.dim_risk_thresholds)
              = (select count(distinct archetype) * 4 from main_marts.dim_servers) as thresholds_cover,
            (select bool_and(s.servers_reporting
                    = (select count(*) from main_marts.fct_server_daily_metrics d
                       where d.metric = s.metric and d.metric_date = s.metric_date and not d.is_low_coverage))
             from main_marts.fct_fleet_daily_summary s) as summary_reconciles
    """).iloc[0]
    assert check.champions_match and check.thresholds_cover and check.summary_reconciles
