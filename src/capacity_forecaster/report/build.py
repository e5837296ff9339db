"""Render the capacity report and the data-validation page from the published warehouse.

Read-only: the report opens the DuckDB file with read_only=True, so it never blocks a build
and works against the published snapshot. It reads the public marts only (report.data).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from jinja2 import Environment, PackageLoader, select_autoescape

from capacity_forecaster.report import data
from capacity_forecaster.report.charts import (
    PALETTE,
    Band,
    Line,
    Rule,
    bar_chart,
    category_chart,
    heat_color,
    reliability_chart,
    time_chart,
)

P95_AXIS = "daily P95 (% of capacity)"


@dataclass
class ReportResult:
    index: Path
    eda: Path
    seconds: float
    at_risk_servers: int
    charts: int


def _at_risk_chart(server: str, metric: str, series: dict[str, Any]) -> Any:
    forecast = series["forecast"]
    origin = series["origin_date"]
    bands = []
    lines = [Line("actual", series["history"], color="#1d2330", width=1.6)]
    if forecast:
        bands = [
            Band(
                "95 % interval",
                [(f["forecast_date"], f["yhat_lower_95_pct"], f["yhat_upper_95_pct"]) for f in forecast],
                opacity=0.12,
            ),
            Band(
                "80 % interval",
                [(f["forecast_date"], f["yhat_lower_80_pct"], f["yhat_upper_80_pct"]) for f in forecast],
                opacity=0.24,
            ),
        ]
        lines.append(
            Line(
                "forecast",
                [(f["forecast_date"], f["yhat_pct"]) for f in forecast],
                color="#1f5fbf",
                dash="6 4",
                width=2,
            )
        )
    rules = [
        Rule(f"high {series['high_risk_threshold_pct']:g} %", series["high_risk_threshold_pct"]),
        Rule(
            f"very high {series['very_high_risk_threshold_pct']:g} %",
            series["very_high_risk_threshold_pct"],
            color="#7a1010",
            dash="2 3",
        ),
    ]
    return time_chart(
        f"{server} {metric}: daily P95, champion forecast and thresholds",
        P95_AXIS,
        lines,
        bands,
        rules,
        marker=(f"origin {origin:%Y-%m-%d}", origin) if origin else None,
    )


def _quarterly_charts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    charts = []
    for metric, metric_rows in data.by_key(rows, "metric").items():
        quarters = sorted({(r["quarter_start_date"], r["quarter_label"]) for r in metric_rows})
        labels = [label for _, label in quarters]
        archetypes = sorted({r["archetype"] for r in metric_rows} - {"fleet"})
        cell = {(r["archetype"], r["quarter_label"]): r for r in metric_rows}
        lines = []
        for i, archetype in enumerate(archetypes):
            values = [cell.get((archetype, q), {}).get("avg_p95") for q in labels]
            lines.append((archetype, values, PALETTE[i % len(PALETTE)], ""))
        fleet = [cell.get(("fleet", q), {}) for q in labels]
        lines.append(("fleet average", [f.get("avg_p95") for f in fleet], "#1d2330", ""))
        lines.append(("fleet peak day", [f.get("peak_p95") for f in fleet], "#1d2330", "5 4"))
        partial = []
        for start, label in quarters:
            row = cell.get(("fleet", label))
            end = row["quarter_end_date"] if row else None
            if row and end and row["days"] < (end - start).days + 1:
                partial.append(f"{label} ({row['days']} days)")
        charts.append(
            {
                "metric": metric,
                "svg": category_chart(
                    f"{metric}: quarterly average of daily P95 by archetype",
                    P95_AXIS,
                    labels,
                    lines,
                    legend_rows=2 if len(lines) > 4 else 1,
                ),
                "partial": partial,
            }
        )
    return charts


def _calibration_chart(bins: list[dict[str, Any]]) -> Any:
    series = []
    overall = data.by_key([b for b in bins if b["population"] == "all"], "window_days")
    for i, (window, rows) in enumerate(sorted(overall.items())):
        points = [
            (r["mean_probability"], r["observed_frequency"], r["n_series_origins"])
            for r in rows
            if r["mean_probability"] is not None and r["observed_frequency"] is not None
        ]
        series.append((f"{window}-day flags", PALETTE[i % len(PALETTE)], points))
    if not series:
        return None
    return reliability_chart("Reliability of P(window max > high threshold)", series)


def _brier_chart(summary: list[dict[str, Any]]) -> Any:
    """Brier score of the probabilities next to the last-7-days rule's, high-risk flags."""
    items: list[tuple[str, float | None]] = []
    for row in summary:
        if row["population"] == "all" and row["risk_class"] == "high_risk":
            items.append((f"{row['window_days']}-day: model", row["brier_score"]))
            items.append((f"{row['window_days']}-day: 7-day rule", row["rule_brier_score"]))
    if not items:
        return None
    return bar_chart(
        "Brier score of the high-risk probabilities vs the last-7-days rule (lower is better)",
        items,
        "Brier score (mean squared error of the probability; lower = better)",
        digits=3,
        judge=False,
    )


def _quality_chart(daily: list[dict[str, Any]]) -> Any:
    if not any(d["measurements_quarantined"] or d["measurements_capped"] for d in daily):
        return None
    quarantined = [(d["partition_date"], float(d["measurements_quarantined"])) for d in daily]
    capped = [(d["partition_date"], float(d["measurements_capped"])) for d in daily]
    return time_chart(
        "Measurements quarantined and capped per day",
        "measurements per day (count)",
        [
            Line("quarantined", quarantined, color="#b42318", width=1.4, markers=len(daily) < 40),
            Line("capped at 100 %", capped, color="#1f5fbf", width=1.4, markers=len(daily) < 40),
        ],
        clamp=(0.0, float("inf")),
        height=260,
        integer=True,
    )


def _context(marts: data.Marts, generated_at: dt.datetime) -> dict[str, Any]:
    fresh = data.freshness(marts, generated_at)
    windows = data.risk_windows(marts)
    rows, metrics = data.servers(marts)
    window = (rows[0].risk_window_days if rows else None) or (max(windows) if windows else 90)
    breaching, soon = data.split_at_risk(rows)
    series = data.chart_series(marts, window)
    charts: dict[str, list[dict[str, Any]]] = {}
    for server in [*breaching, *soon]:
        charts[server.server_id] = [
            {
                "metric": m.metric,
                "state": m.state,
                "svg": _at_risk_chart(server.server_id, m.metric, series[(server.server_id, m.metric)]),
            }
            for m in server.at_risk
            if (server.server_id, m.metric) in series
        ]
    heat = data.heatmap(marts, window)
    heatmap: dict[str, dict[str, dict[str, Any]]] = {}
    for h in heat:
        share = h["at_risk"] / h["servers"] if h["servers"] else None
        heatmap.setdefault(h["archetype"], {})[h["metric"]] = {**h, "color": heat_color(share, 0, 0.5)}
    summary, bins = data.calibration(marts)
    acc = data.accuracy(marts)
    days = data.history_days(marts)
    reasons = data.empty_backtest_reasons(days, windows)
    for key, mart in (("risk", "fct_risk_backtest"), ("forecast", "fct_forecast_champions")):
        if not marts.has(mart):
            reasons[key] = (
                f"{mart} is not in this warehouse (partial build): nothing to judge the {key} model by."
            )
    groups = data.consolidation(marts)
    quality = data.quality(marts)
    totals = {
        "underutilized": sum(1 for r in rows if r.worst_risk_state == "underutilized"),
        "not_assessed": sum(1 for r in rows if not r.metrics_assessed),
        "hosts_saved": sum(g["servers_retired"] or 0 for g in groups),
        "groups_size_unknown": sum(1 for g in groups if not g["is_size_known"]),
        "add": _capacity_totals([*breaching, *soon]),
    }
    soon_30 = [r for r in soon if r.days_to_breach is not None and r.days_to_breach <= 30]
    short = min(windows) if windows and min(windows) < window else None
    reach = data.forecast_reach(marts)
    horizon_note = None
    if reach is not None and windows and reach < max(windows):
        horizon_note = (
            f"Short history: {days} days of data support forecasts up to {reach} days ahead, so the "
            f"{max(windows)}-day view covers only those days; yearly seasonality is off below two years."
        )
    return {
        "fresh": fresh,
        "fleet": data.fleet_counts(marts),
        "window": window,
        "windows": windows,
        "metrics": metrics,
        "servers": rows,
        "breaching": breaching,
        "soon": soon,
        "soon_30": soon_30,
        "short_window": short,
        "short_risk": data.short_window_risk(marts, short) if short else {},
        "charts": charts,
        "chart_count": sum(len(c) for c in charts.values()),
        "changes": data.changes(marts, window),
        "heatmap": heatmap,
        "heat_metrics": sorted({h["metric"] for h in heat}),
        "quarterly": _quarterly_charts(data.quarterly(marts)),
        "consolidation": groups,
        "totals": totals,
        "calibration": summary,
        "calibration_chart": _calibration_chart(bins),
        "brier_chart": _brier_chart(summary),
        "accuracy": acc,
        "accuracy_chart": bar_chart(
            "Champion test MAE / the 28-day mean's MAE, per metric and horizon",
            [(f"{r['metric']} {r['horizon_bucket']} d", r["ratio"]) for r in acc["by_metric"]],
            "test MAE ratio (champion / 28-day mean; < 1 = better)",
            reference=("28-day mean = 1", 1.0),
        ),
        "reasons": reasons,
        "history_days": days,
        "quality": quality,
        "quality_chart": _quality_chart(quality["daily"]),
        "horizon_note": horizon_note,
        "marts_missing": sorted(REQUIRED_MARTS - marts.tables),
    }


REQUIRED_MARTS = {
    "dim_servers",
    "dim_dates",
    "fct_server_daily_metrics",
    "fct_server_summary",
    "fct_capacity_risk",
    "fct_champion_forecasts",
    "fct_risk_history",
    "fct_consolidation_groups",
    "fct_forecast_champions",
    "fct_backtest_metrics",
    "fct_risk_backtest",
    "fct_load_reconciliation",
    "fct_quarantined_measurements",
}


def _capacity_totals(rows: list[data.ServerRow]) -> list[dict[str, Any]]:
    """Capacity to add over the at-risk servers, per metric in its unit (known sizes only)."""
    totals: dict[str, dict[str, Any]] = {}
    for row in rows:
        for m in row.at_risk:
            t = totals.setdefault(
                m.metric,
                {"metric": m.metric, "unit": m.unit, "units": 0.0, "known": 0, "pct": [], "lower_bound": 0},
            )
            t["pct"].append(m.add_pct or 0.0)
            if m.add_units is not None:
                t["units"] += m.add_units
                t["known"] += 1
            t["lower_bound"] += m.is_lower_bound
    for t in totals.values():
        t["servers"] = len(t["pct"])
        t["median_pct"] = sorted(t["pct"])[len(t["pct"]) // 2]
        t["unknown"] = t["servers"] - t["known"]
    return [totals[k] for k in sorted(totals)]


def _eda_context(marts: data.Marts) -> dict[str, Any]:
    samples = []
    if marts.has("dim_servers", "fct_server_daily_metrics"):
        picks = marts.rows(
            f"""
            select archetype, min(server_id) as server_id from {data.SCHEMA}.dim_servers
            where not is_short_history group by 1 order by 1"""
        )
        for row in picks:
            history = marts.rows(
                f"""
                select metric_date, p95_pct from {data.SCHEMA}.fct_server_daily_metrics
                where server_id = ? and metric = 'cpu' and not is_low_coverage order by metric_date""",
                [row["server_id"]],
            )
            points = [(h["metric_date"], h["p95_pct"]) for h in history]
            title = f"{row['archetype']} sample {row['server_id']}: daily CPU P95"
            chart = time_chart(title, "CPU daily P95 (% of capacity)", [Line("CPU daily P95", points)])
            samples.append({**row, "svg": chart})
    metrics = data.daily_metrics(marts)
    pairs = [(a, b) for i, a in enumerate(metrics) for b in metrics[i + 1 :]]
    correlations: list[dict[str, Any]] = []
    uplift: list[dict[str, Any]] = []
    if marts.has("fct_server_daily_metrics") and pairs:
        pivot = ", ".join(f"max(p95_pct) filter (where metric = '{m}') as {m}" for m in metrics)
        corr = ", ".join(f"corr({a}, {b}) as {a}__{b}" for a, b in pairs)
        correlations = marts.rows(
            f"""
            with wide as (
                select archetype, server_id, metric_date, {pivot}
                from {data.SCHEMA}.fct_server_daily_metrics group by all)
            select archetype, {corr} from wide group by 1 order by 1"""
        )
        for row in correlations:
            row["cells"] = [(row[f"{a}__{b}"], heat_color(row[f"{a}__{b}"], 0, 1)) for a, b in pairs]
    if marts.has("fct_server_daily_metrics", "dim_dates"):
        uplift = marts.rows(
            f"""
            select d.archetype, d.metric,
                   avg(d.p95_pct) filter (where c.is_end_of_quarter)
                     / nullif(avg(d.p95_pct) filter (where not c.is_end_of_quarter), 0) as ratio,
                   count(distinct d.metric_date) filter (where c.is_end_of_quarter) as quarter_end_days
            from {data.SCHEMA}.fct_server_daily_metrics as d
            inner join {data.SCHEMA}.dim_dates as c on c.calendar_date = d.metric_date
            where not d.is_low_coverage
            group by all order by 1, 2"""
        )
    has_quarter_end = any(u["quarter_end_days"] for u in uplift)
    return {
        "samples": samples,
        "correlations": correlations,
        "pairs": pairs,
        "has_quarter_end": has_quarter_end,
        "uplift_chart": bar_chart(
            "Quarter-end uplift: daily P95 in the quarter-end window / other days",
            [(f"{u['archetype']} {u['metric']}", u["ratio"]) for u in uplift],
            "ratio of average daily P95 (1 = no uplift)",
            reference=("no uplift = 1", 1.0),
            unit="×",
            judge=False,
        )
        if has_quarter_end
        else None,
    }


def render_report(database: Path, out_dir: Path, now: dt.datetime | None = None) -> ReportResult:
    started = time.perf_counter()
    env = Environment(
        loader=PackageLoader("capacity_forecaster.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = _pct
    env.filters["num"] = _num
    env.filters["day"] = _day
    generated_at = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with duckdb.connect(str(database), read_only=True) as con:
        marts = data.Marts(con)
        context = _context(marts, generated_at)
        eda = _eda_context(marts)
    out_dir.mkdir(parents=True, exist_ok=True)
    index, eda_path = out_dir / "index.html", out_dir / "eda.html"
    generated = f"{generated_at:%Y-%m-%d %H:%M} UTC"
    index.write_text(
        env.get_template("report.html.j2").render(generated=generated, **context), encoding="utf-8"
    )
    eda_path.write_text(
        env.get_template("eda.html.j2").render(generated=generated, fresh=context["fresh"], **eda),
        encoding="utf-8",
    )
    return ReportResult(
        index,
        eda_path,
        time.perf_counter() - started,
        len(context["breaching"]) + len(context["soon"]),
        context["chart_count"],
    )


def _pct(value: float | None, digits: int = 1, scale: float = 1.0) -> str:
    """A percentage, or an en dash for a missing value (never 'None')."""
    return "–" if value is None else f"{value * scale:.{digits}f} %"


def _num(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _day(value: dt.date | dt.datetime | None) -> str:
    return "–" if value is None else f"{value:%Y-%m-%d}"
