"""Render the capacity report and the data-validation page from the published warehouse.

Read-only: the report opens the DuckDB file with read_only=True, so it never blocks a build
and works against the published snapshot.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from jinja2 import Environment, PackageLoader, select_autoescape

from capacity_forecaster.report.charts import bar_chart, forecast_chart, heat_color

RISK_ORDER = ("very_high_risk", "high_risk", "normal", "underutilized")


@dataclass
class ReportResult:
    index: Path
    eda: Path
    seconds: float


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _at_risk_charts(con, at_risk: list[dict], limit: int) -> list[dict]:
    charts = []
    for server in at_risk[:limit]:
        key = [server["server_id"], server["driving_metric"]]
        history = _rows(
            con,
            """
            select strftime(metric_date, '%Y-%m-%d') as day, p95_pct
            from main_marts.fct_server_daily_metrics
            where server_id = ? and metric = ?
              and metric_date > (select max(metric_date) from main_marts.fct_server_daily_metrics) - 120
            order by metric_date""",
            key,
        )
        forecast = _rows(
            con,
            """
            select strftime(forecast_date, '%Y-%m-%d') as date, yhat_pct as yhat,
                   yhat_lower_80_pct as lower_80, yhat_upper_80_pct as upper_80,
                   yhat_lower_95_pct as lower_95, yhat_upper_95_pct as upper_95
            from main_marts.fct_forecasts
            where server_id = ? and metric = ? and is_champion order by forecast_date""",
            key,
        )
        thresholds = _rows(
            con,
            """
            select high_risk_threshold_pct as high, very_high_risk_threshold_pct as very_high
            from main_marts.fct_capacity_risk where server_id = ? and metric = ? and window_days = 90""",
            key,
        )
        limits = (thresholds[0]["high"], thresholds[0]["very_high"]) if thresholds else ()
        title = f"{server['server_id']} {server['driving_metric']}: actual and forecast daily P95"
        charts.append(
            {
                **server,
                "svg": forecast_chart(title, [(h["day"], h["p95_pct"]) for h in history], forecast, limits),
            }
        )
    return charts


def _context(con) -> dict:
    fleet = _rows(
        con,
        """
        select count(*) as servers, count(*) filter (where not is_decommissioned) as live,
               count(*) filter (where is_short_history) as short_history,
               min(first_metric_date) as first_day, max(last_metric_date) as last_day
        from main_marts.dim_servers""",
    )[0]
    classes = {
        r["risk_class"]: r["n"]
        for r in _rows(
            con,
            """
        select risk_class, count(*) as n from main_marts.fct_server_risk
        where window_days = 90 group by 1""",
        )
    }
    at_risk = _rows(
        con,
        """
        select server_id, archetype, risk_class, recommended_action, driving_metric,
               days_to_breach, p_breach_high, max_forecast_p95_pct,
               is_low_confidence, why_flagged
        from main_marts.fct_server_risk
        where window_days = 90 and risk_class in ('very_high_risk', 'high_risk')
        order by risk_class = 'very_high_risk' desc, days_to_breach nulls last, server_id""",
    )
    heat = _rows(
        con,
        """
        select r.archetype, r.metric,
               count(*) filter (where r.risk_class in ('high_risk', 'very_high_risk')) as at_risk,
               count(*) as servers
        from main_marts.fct_capacity_risk r where r.window_days = 90 group by all order by 1, 2""",
    )
    metrics = sorted({h["metric"] for h in heat})
    heatmap: dict[str, dict[str, dict[str, Any]]] = {}
    for h in heat:
        share = h["at_risk"] / h["servers"] if h["servers"] else None
        heatmap.setdefault(h["archetype"], {})[h["metric"]] = {
            "at_risk": h["at_risk"],
            "servers": h["servers"],
            "color": heat_color(share, 0, 0.5),
        }
    quarterly = _rows(
        con,
        """
        select strftime(date_trunc('quarter', metric_date), '%Y-Q') || quarter(metric_date) as quarter,
               metric, round(avg(p95_pct), 1) as avg_p95
        from main_marts.fct_server_daily_metrics where not is_low_coverage
        group by all order by 1, 2""",
    )
    quarter_table: dict[str, dict] = {}
    for q in quarterly:
        quarter_table.setdefault(q["quarter"], {})[q["metric"]] = q["avg_p95"]
    accuracy = _rows(
        con,
        """
        select model, mase, mae_ratio_vs_seasonal_naive, coverage_80, coverage_95,
               (select mae_pct from main_marts.fct_backtest_metrics q
                 where q.model = m.model and q.split = 'test' and q.metric = 'all' and q.archetype = 'all'
                   and q.horizon_bucket = 'all' and q.period = 'quarter_end') / mae_pct
                 as quarter_end_mae_ratio
        from main_marts.fct_backtest_metrics m
        where split = 'test' and metric = 'all' and archetype = 'all' and horizon_bucket = 'all'
          and period = 'all'
        order by mase nulls last""",
    )
    by_archetype = _rows(
        con,
        """
        select c.archetype, c.metric || ' ' || c.horizon_bucket as metric, c.champion_model,
               c.test_mase as mase, c.test_mae_ratio_vs_seasonal_naive as mase_ratio_vs_seasonal_naive,
               c.test_coverage_80 as coverage_80, c.selection_reason
        from main_marts.fct_forecast_champions c order by 1, 2""",
    )
    quality: dict[str, Any] = {
        "quarantine": _rows(
            con,
            """
            select quarantine_reason, count(*) as measurements, count(distinct source_file) as files
            from main_marts.fct_quarantined_measurements group by 1 order by 2 desc""",
        ),
        "reconciliation": _rows(
            con,
            """
            select sum(rows_read) as rows_read, sum(measurements_accepted) as accepted,
                   sum(measurements_quarantined) as quarantined,
                   count(*) filter (where not is_reconciled) as unreconciled_partitions,
                   max(partition_date) as last_partition
            from main_marts.fct_load_reconciliation""",
        )[0],
        "coverage": _rows(
            con,
            """
            select round(avg(coverage_ratio), 3) as avg_coverage,
                   count(*) filter (where is_low_coverage) as low_coverage_days
            from main_marts.fct_server_daily_metrics""",
        )[0],
    }
    reach = _rows(
        con,
        """
        select (select max(horizon_days) from main_marts.fct_forecasts) as max_horizon,
               (select max(window_days) from main_marts.fct_capacity_risk) as max_window,
               (select count(distinct metric_date) from main_marts.fct_server_daily_metrics) as days""",
    )[0]
    horizon_note = None
    capped = reach["max_horizon"] is not None and reach["max_window"]
    if capped and reach["max_horizon"] < reach["max_window"]:
        horizon_note = (
            f"Short history: {reach['days']} days of data support forecasts up to "
            f"{reach['max_horizon']} days ahead (half the history), so the {reach['max_window']}-day "
            f"risk view covers only those days; yearly seasonality is off below two years."
        )
    last = quality["reconciliation"]["last_partition"]
    quality["freshness_days"] = (dt.date.today() - last).days if last else None
    consolidation = _rows(
        con,
        """
        select group_id, group_size, hosts_needed, servers_retired, group_peak_cpu_vcpus,
               group_peak_memory_gb, string_agg(server_id, ', ' order by server_id) as servers,
               any_value(recommendation) as recommendation, any_value(silhouette) as silhouette,
               any_value(chosen_k) as chosen_k
        from main_marts.fct_consolidation_groups group by all order by group_id""",
    )
    backtest = _rows(
        con,
        """
        select * from main_marts.fct_risk_backtest where probability_bin = 'all'
        order by population, risk_class, window_days""",
    )
    return {
        "fleet": fleet,
        "classes": [(c, classes.get(c, 0)) for c in RISK_ORDER],
        "at_risk": at_risk,
        "charts": _at_risk_charts(con, at_risk, limit=12),
        "heatmap": heatmap,
        "heat_metrics": metrics,
        "quarters": quarter_table,
        "accuracy": accuracy,
        "accuracy_chart": bar_chart(
            "Holdout MASE by model (1 = in-sample seasonal naive error)",
            [(a["model"], a["mase"]) for a in accuracy if a["mase"] is not None],
            reference=1.0,
        ),
        "by_archetype": by_archetype,
        "quality": quality,
        "consolidation": consolidation,
        "risk_backtest": backtest,
        "horizon_note": horizon_note,
    }


def _eda_context(con) -> dict:
    samples = []
    for row in _rows(
        con,
        """
            select archetype, min(server_id) as server_id from main_marts.dim_servers
            where not is_short_history group by 1 order by 1""",
    ):
        history = _rows(
            con,
            """
            select strftime(metric_date, '%Y-%m-%d') as day, p95_pct from main_marts.fct_server_daily_metrics
            where server_id = ? and metric = 'cpu' order by metric_date""",
            [row["server_id"]],
        )
        title = f"{row['archetype']} sample {row['server_id']}: daily CPU P95"
        series = [(h["day"], h["p95_pct"]) for h in history]
        samples.append({**row, "svg": forecast_chart(title, series, [], ())})
    pairs = [
        ("cpu", "memory"),
        ("cpu", "disk_io"),
        ("cpu", "network"),
        ("memory", "disk_io"),
        ("memory", "network"),
        ("disk_io", "network"),
    ]
    corr_sql = ", ".join(f"corr({a}, {b}) as {a}__{b}" for a, b in pairs)
    correlations = _rows(
        con,
        f"""
        with wide as (
            select archetype, server_id, metric_date,
                   max(p95_pct) filter (where metric = 'cpu') as cpu,
                   max(p95_pct) filter (where metric = 'memory') as memory,
                   max(p95_pct) filter (where metric = 'disk_io') as disk_io,
                   max(p95_pct) filter (where metric = 'network') as network
            from main_marts.fct_server_daily_metrics group by all)
        select archetype, {corr_sql} from wide group by 1 order by 1""",
    )
    for row in correlations:
        row["cells"] = [(f"{a}/{b}", row[f"{a}__{b}"], heat_color(row[f"{a}__{b}"], 0, 1)) for a, b in pairs]
    uplift = _rows(
        con,
        """
        select d.archetype, d.metric,
               avg(d.p95_pct) filter (where c.is_end_of_quarter)
                 / avg(d.p95_pct) filter (where not c.is_end_of_quarter) as quarter_end_ratio
        from main_marts.fct_server_daily_metrics d
        join main_intermediate.int_calendar_days_generated c on c.calendar_date = d.metric_date
        group by all order by 1, 2""",
    )
    return {
        "samples": samples,
        "correlations": correlations,
        "pairs": pairs,
        "uplift_chart": bar_chart(
            "Quarter-end uplift (daily P95 in the window / other days)",
            [(f"{u['archetype']} {u['metric']}", u["quarter_end_ratio"]) for u in uplift],
            unit="x",
            reference=1.0,
        ),
    }


def render_report(database: Path, out_dir: Path) -> ReportResult:
    started = time.perf_counter()
    env = Environment(
        loader=PackageLoader("capacity_forecaster.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    with duckdb.connect(str(database), read_only=True) as con:
        context = _context(con)
        eda = _eda_context(con)
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    out_dir.mkdir(parents=True, exist_ok=True)
    index, eda_path = out_dir / "index.html", out_dir / "eda.html"
    index.write_text(
        env.get_template("report.html.j2").render(generated=generated, **context), encoding="utf-8"
    )
    eda_path.write_text(env.get_template("eda.html.j2").render(generated=generated, **eda), encoding="utf-8")
    return ReportResult(index, eda_path, time.perf_counter() - started)
