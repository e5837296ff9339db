"""The dbt project built for real on the small fleet: reconciliation and marts."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.dbt


def test_every_raw_row_is_accounted_for(built_warehouse, small_fleet):
    rec = built_warehouse.query("select * from main_marts.fct_load_reconciliation")
    assert rec.is_reconciled.all()
    assert rec.rows_read.sum() == small_fleet.result.metrics_rows
    assert len(rec) == small_fleet.spec.days


def test_daily_facts_cover_every_server_and_metric(built_warehouse, small_fleet):
    counts = built_warehouse.query("""
        select count(distinct server_id) as servers, count(distinct metric) as metrics,
               min(p95_pct) as lo, max(p95_pct) as hi
        from main_marts.fct_server_daily_metrics
    """).iloc[0]
    assert counts.servers == small_fleet.spec.servers
    assert counts.metrics == 4
    assert 0 <= counts.lo <= counts.hi <= 100


def test_short_history_servers_flagged(built_warehouse):
    servers = built_warehouse.query("select * from main_marts.dim_servers")
    assert servers.is_short_history.any()
    assert (servers.loc[servers.is_short_history, "days_with_data"] < 60).all()
