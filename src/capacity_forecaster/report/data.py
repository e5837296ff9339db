"""What the report shows, read from the public marts only (schema main_marts).

Every section copes with an empty or missing mart (a single day of history, a partial build,
no at-risk server, no backtest yet) and then says why instead of drawing nothing.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import duckdb

SCHEMA = "main_marts"
AT_RISK_STATES = ("breaching_now", "forecast_breach")
AT_RISK_CLASSES = ("high_risk", "very_high_risk")
CLASS_SEVERITY = {"very_high_risk": 4, "high_risk": 3, "normal": 2, "underutilized": 1}
STATE_SEVERITY = {"breaching_now": 4, "forecast_breach": 3, "normal": 2, "underutilized": 1}
# How a unit suffix of fct_server_summary's <metric>_add_<unit> columns reads.
UNIT_LABELS = {"vcpus": "vCPU", "gb": "GB", "mb_per_s": "MB/s", "mbit_per_s": "Mbit/s"}
SIZED_UNITS = ("vCPU", "GB")  # a server always has these; unknown = "size unknown"
HISTORY_DAYS = 90  # actuals drawn before the origin in each at-risk chart
HISTORICAL_AFTER_DAYS = 2  # data older than this at build time is called historical


class Marts:
    """A read-only connection that knows which public marts exist."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self.tables = {
            name
            for (name,) in con.execute(
                "select table_name from duckdb_tables() where schema_name = ?", [SCHEMA]
            ).fetchall()
        }

    def has(self, *names: str) -> bool:
        return all(name in self.tables for name in names)

    def rows(self, sql: str, params: list | None = None) -> list[dict[str, Any]]:
        cursor = self.con.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        # NaN (a correlation of one point, 0/0) reads as missing, like NULL: never "nan"
        return [
            {
                k: None if isinstance(v, float) and math.isnan(v) else v
                for k, v in zip(names, row, strict=True)
            }
            for row in cursor.fetchall()
        ]

    def columns(self, table: str) -> list[str]:
        return [
            name
            for (name,) in self.con.execute(
                "select column_name from duckdb_columns() where schema_name = ? and table_name = ? "
                "order by column_index",
                [SCHEMA, table],
            ).fetchall()
        ]


# --- freshness ------------------------------------------------------------------------------


@dataclass
class Freshness:
    generated_at: dt.datetime
    first_day: dt.date | None
    data_through: dt.date | None
    origin: dt.date | None
    forecast_through: dt.date | None
    published_at: dt.datetime | None
    release_id: str | None

    @property
    def built_at(self) -> dt.datetime:
        return self.published_at or self.generated_at

    @property
    def age_days(self) -> int | None:
        """Days between the last day with data and the build (not the reader's clock)."""
        return (self.built_at.date() - self.data_through).days if self.data_through else None

    @property
    def is_historical(self) -> bool:
        return self.age_days is not None and self.age_days > HISTORICAL_AFTER_DAYS


def freshness(marts: Marts, generated_at: dt.datetime) -> Freshness:
    meta: dict[str, Any] = {}
    if marts.has("warehouse_meta"):
        meta = marts.rows(
            f"select max(data_through) as data_through, max(forecast_through) as forecast_through, "
            f"max(published_at) as published_at, any_value(release_id) as release_id "
            f"from {SCHEMA}.warehouse_meta"
        )[0]
    days: dict[str, Any] = {"first_day": None, "last_day": None}
    if marts.has("fct_server_daily_metrics"):
        days = marts.rows(
            f"select min(metric_date) as first_day, max(metric_date) as last_day "
            f"from {SCHEMA}.fct_server_daily_metrics"
        )[0]
    origin = None
    if marts.has("fct_capacity_risk"):
        origin = marts.rows(f"select max(origin_date) as origin from {SCHEMA}.fct_capacity_risk")[0]["origin"]
    if origin is None and marts.has("fct_champion_forecasts"):
        origin = marts.rows(f"select max(origin_date) as origin from {SCHEMA}.fct_champion_forecasts")[0][
            "origin"
        ]
    return Freshness(
        generated_at=generated_at,
        first_day=days["first_day"],
        data_through=meta.get("data_through") or days["last_day"],
        origin=origin,
        forecast_through=meta.get("forecast_through"),
        published_at=meta.get("published_at"),
        release_id=meta.get("release_id"),
    )


# --- servers at risk ------------------------------------------------------------------------


@dataclass
class MetricRisk:
    metric: str
    state: str | None
    risk_class: str | None
    current_p95_pct: float | None
    p_breach_high: float | None
    since: dt.date | None
    first_likely: dt.date | None
    peak_pct: float | None
    add_pct: float | None
    add_units: float | None
    unit: str | None
    is_lower_bound: bool

    @property
    def is_at_risk(self) -> bool:
        return self.state in AT_RISK_STATES

    @property
    def capacity_text(self) -> str:
        """'+2 vCPU (25.0 %)'; '≥' when saturated (true demand unknown); a server without
        vCPUs / GB in the inventory says "size unknown"; disk and network without a known
        throughput are sized in % of their capacity."""
        if self.add_pct is None:
            return "–"
        prefix = "≥ +" if self.is_lower_bound else "+"
        if self.add_units is not None:
            return f"{prefix}{self.add_units:,.0f} {self.unit} ({self.add_pct:.1f} %)"
        if self.unit in SIZED_UNITS:
            return f"{prefix}{self.add_pct:.1f} % (size unknown)"
        return f"{prefix}{self.add_pct:.1f} %"


@dataclass
class ServerRow:
    row: dict[str, Any]
    metrics: list[MetricRisk]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.row[name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    @property
    def at_risk(self) -> list[MetricRisk]:
        return [m for m in self.metrics if m.is_at_risk]

    @property
    def breaching(self) -> list[MetricRisk]:
        return [m for m in self.metrics if m.state == "breaching_now"]

    @property
    def forecast(self) -> list[MetricRisk]:
        return [m for m in self.metrics if m.state == "forecast_breach"]

    @property
    def max_p_breach(self) -> float | None:
        values = [m.p_breach_high for m in self.forecast if m.p_breach_high is not None]
        return max(values) if values else None

    @property
    def size_text(self) -> str:
        parts = []
        if self.row.get("vcpus") is not None:
            parts.append(f"{self.row['vcpus']} vCPU")
        if self.row.get("memory_gb") is not None:
            parts.append(f"{self.row['memory_gb']} GB")
        return " · ".join(parts) if parts else "size unknown"


def summary_metrics(marts: Marts) -> list[str]:
    """Metrics of fct_server_summary's wide columns (they follow var metrics)."""
    return [
        c[: -len("_risk_state")]
        for c in marts.columns("fct_server_summary")
        if c.endswith("_risk_state") and c != "worst_risk_state"
    ]


def servers(marts: Marts) -> tuple[list[ServerRow], list[str]]:
    if not marts.has("fct_server_summary"):
        return [], []
    metrics = summary_metrics(marts)
    columns = marts.columns("fct_server_summary")
    units = {
        m: next(
            (c[len(m) + 5 :] for c in columns if c.startswith(f"{m}_add_") and c != f"{m}_add_pct"),
            None,
        )
        for m in metrics
    }
    out = []
    for row in marts.rows(f"select * from {SCHEMA}.fct_server_summary order by server_id"):
        per_metric = []
        for m in metrics:
            unit = units[m]
            per_metric.append(
                MetricRisk(
                    metric=m,
                    state=row[f"{m}_risk_state"],
                    risk_class=row[f"{m}_risk_class"],
                    current_p95_pct=row[f"{m}_current_p95_pct"],
                    p_breach_high=row[f"{m}_p_breach_high"],
                    since=row[f"{m}_breaching_since_date"],
                    first_likely=row[f"{m}_first_likely_breach_date"],
                    peak_pct=row[f"{m}_sizing_peak_pct"],
                    add_pct=row[f"{m}_add_pct"],
                    add_units=row[f"{m}_add_{unit}"] if unit else None,
                    unit=UNIT_LABELS.get(unit, unit) if unit else None,
                    is_lower_bound=bool(row[f"{m}_is_add_lower_bound"]),
                )
            )
        out.append(ServerRow(row, per_metric))
    return out, metrics


def split_at_risk(rows: list[ServerRow]) -> tuple[list[ServerRow], list[ServerRow]]:
    """(breaching now, will breach): a server with any metric above its threshold today is
    breaching now (longest-running first); the others with a forecast crossing are sorted by
    their first likely crossing."""
    now = [r for r in rows if r.breaching]
    soon = [r for r in rows if not r.breaching and r.forecast]
    now.sort(key=lambda r: (min(m.since or dt.date.max for m in r.breaching), r.server_id))
    soon.sort(key=lambda r: (min(m.first_likely or dt.date.max for m in r.forecast), r.server_id))
    return now, soon


def short_window_risk(marts: Marts, window: int) -> dict[str, dict[str, Any]]:
    """Per server, the shorter window's view (fct_server_risk): P(breach) of its driving metric
    and whether it is flagged within that window, so the 90-day table also answers "within 30
    days, how likely?"."""
    if not marts.has("fct_server_risk"):
        return {}
    rows = marts.rows(
        f"""
        select server_id, p_breach_high, risk_state, first_likely_breach_date
        from {SCHEMA}.fct_server_risk where window_days = ?""",
        [window],
    )
    return {r["server_id"]: r for r in rows}


def chart_series(marts: Marts, window: int) -> dict[tuple[str, str], dict[str, Any]]:
    """History, champion forecast and thresholds for every at-risk server x metric, in three
    bulk queries (one chart each, however many there are)."""
    if not marts.has("fct_capacity_risk", "fct_server_daily_metrics"):
        return {}
    pairs = f"""
        select server_id, metric, origin_date, high_risk_threshold_pct, very_high_risk_threshold_pct
        from {SCHEMA}.fct_capacity_risk
        where window_days = ? and risk_state in ('breaching_now', 'forecast_breach')"""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for p in marts.rows(pairs, [window]):
        out[(p["server_id"], p["metric"])] = {**p, "history": [], "forecast": []}
    if not out:
        return out
    history = marts.rows(
        f"""
        with pairs as ({pairs})
        select d.server_id, d.metric, d.metric_date, d.p95_pct
        from {SCHEMA}.fct_server_daily_metrics as d
        inner join pairs on d.server_id = pairs.server_id and d.metric = pairs.metric
        where not d.is_low_coverage and d.metric_date > pairs.origin_date - {HISTORY_DAYS}
        order by d.server_id, d.metric, d.metric_date""",
        [window],
    )
    for h in history:
        out[(h["server_id"], h["metric"])]["history"].append((h["metric_date"], h["p95_pct"]))
    if marts.has("fct_champion_forecasts"):
        forecast = marts.rows(
            f"""
            with pairs as ({pairs})
            select f.server_id, f.metric, f.forecast_date, f.yhat_pct, f.yhat_lower_80_pct,
                   f.yhat_upper_80_pct, f.yhat_lower_95_pct, f.yhat_upper_95_pct, f.model
            from {SCHEMA}.fct_champion_forecasts as f
            inner join pairs on f.server_id = pairs.server_id and f.metric = pairs.metric
            where f.horizon_days <= ?
            order by f.server_id, f.metric, f.forecast_date""",
            [window, window],
        )
        for f in forecast:
            out[(f["server_id"], f["metric"])]["forecast"].append(f)
    return out


# --- flags changed since the previous run ----------------------------------------------------


@dataclass
class Changes:
    current_run: dict[str, Any] | None = None
    previous_run: dict[str, Any] | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)

    def of(self, change: str) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["change"] == change]


def _severity(row: dict[str, Any] | None) -> tuple[int, int]:
    if not row:
        return (0, 0)
    return CLASS_SEVERITY.get(row["risk_class"], 0), STATE_SEVERITY.get(row["risk_state"], 0)


def changes(marts: Marts, window: int) -> Changes:
    if not marts.has("fct_risk_history"):
        return Changes()
    runs = marts.rows(
        f"""
        select run_id, max(recorded_at) as recorded_at, max(origin_date) as origin_date
        from {SCHEMA}.fct_risk_history group by run_id order by recorded_at desc limit 2"""
    )
    if not runs:
        return Changes()
    if len(runs) == 1:
        return Changes(current_run=runs[0])
    state: dict[str, dict[str, dict[str, Any]]] = {runs[0]["run_id"]: {}, runs[1]["run_id"]: {}}
    for r in marts.rows(
        f"""
        select run_id, server_id, archetype, risk_class, risk_state, driving_metric, days_to_breach,
               p_breach_high
        from {SCHEMA}.fct_risk_history where window_days = ? and run_id in (?, ?)""",
        [window, runs[0]["run_id"], runs[1]["run_id"]],
    ):
        state[r["run_id"]][r["server_id"]] = r
    now, before = state[runs[0]["run_id"]], state[runs[1]["run_id"]]
    rows = []
    for server in sorted(set(now) | set(before)):
        a, b = now.get(server), before.get(server)
        risky_now = bool(a and a["risk_class"] in AT_RISK_CLASSES)
        risky_before = bool(b and b["risk_class"] in AT_RISK_CLASSES)
        if risky_now and not risky_before:
            change = "new"
        elif risky_before and not risky_now:
            change = "cleared"
        elif risky_now and _severity(a) > _severity(b):
            change = "escalated"
        elif risky_now and _severity(a) < _severity(b):
            change = "eased"
        else:
            continue
        rows.append({"server_id": server, "change": change, "now": a, "before": b})
    return Changes(runs[0], runs[1], rows)


# --- fleet trend -----------------------------------------------------------------------------


def quarterly(marts: Marts) -> list[dict[str, Any]]:
    """Per metric x quarter x archetype (and 'fleet'): the quarter's average of daily P95 and
    its peak day (highest daily average), with the days the quarter has data for."""
    if not marts.has("fct_server_daily_metrics", "dim_dates"):
        return []
    return marts.rows(
        f"""
        with daily as (
            select metric, coalesce(archetype, 'unknown') as archetype, metric_date, avg(p95_pct) as p95
            from {SCHEMA}.fct_server_daily_metrics where not is_low_coverage
            group by all
            union all
            select metric, 'fleet' as archetype, metric_date, avg(p95_pct) as p95
            from {SCHEMA}.fct_server_daily_metrics where not is_low_coverage
            group by all
        )
        select daily.metric, daily.archetype, dates.quarter_label, dates.quarter_start_date,
               dates.quarter_end_date, avg(daily.p95) as avg_p95, max(daily.p95) as peak_p95,
               count(*) as days
        from daily
        inner join {SCHEMA}.dim_dates as dates on dates.calendar_date = daily.metric_date
        group by all
        order by daily.metric, dates.quarter_start_date, daily.archetype"""
    )


def heatmap(marts: Marts, window: int) -> list[dict[str, Any]]:
    if not marts.has("fct_capacity_risk"):
        return []
    return marts.rows(
        f"""
        select coalesce(archetype, 'unknown') as archetype, metric,
               count(*) filter (where risk_state in ('breaching_now', 'forecast_breach')) as at_risk,
               count(*) filter (where risk_state = 'breaching_now') as breaching,
               count(*) as servers
        from {SCHEMA}.fct_capacity_risk where window_days = ? group by all order by 1, 2""",
        [window],
    )


# --- consolidation ---------------------------------------------------------------------------


def consolidation(marts: Marts) -> list[dict[str, Any]]:
    if not marts.has("fct_consolidation_groups"):
        return []
    return marts.rows(
        f"""
        select group_id, any_value(group_size) as group_size, any_value(hosts_needed) as hosts_needed,
               any_value(servers_retired) as servers_retired,
               any_value(group_peak_cpu_vcpus) as peak_vcpus, any_value(group_peak_memory_gb) as peak_gb,
               bool_and(is_size_known) as is_size_known, any_value(chosen_k) as chosen_k,
               any_value(silhouette) as silhouette,
               string_agg(server_id, ', ' order by server_id) as servers
        from {SCHEMA}.fct_consolidation_groups group by group_id order by group_id"""
    )


# --- how far to trust it ---------------------------------------------------------------------


def calibration(marts: Marts) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(summary rows, reliability bins) of fct_risk_backtest, high-risk flags."""
    if not marts.has("fct_risk_backtest"):
        return [], []
    summary = marts.rows(
        f"""
        select * from {SCHEMA}.fct_risk_backtest where probability_bin = 'all'
        order by population, risk_class, window_days"""
    )
    bins = marts.rows(
        f"""
        select population, window_days, probability_bin, mean_probability, observed_frequency,
               n_series_origins
        from {SCHEMA}.fct_risk_backtest
        where probability_bin <> 'all' and risk_class = 'high_risk'
        order by population, window_days, probability_bin"""
    )
    return summary, bins


def accuracy(marts: Marts) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {"champions": [], "by_metric": [], "models": []}
    if marts.has("fct_forecast_champions"):
        out["champions"] = marts.rows(
            f"""
            select archetype, metric, horizon_bucket, champion_model, selection_reason,
                   test_mae_pct, test_moving_average_mae_pct, test_mae_ratio_vs_moving_average,
                   test_coverage_80, test_coverage_95, n_test_forecasts
            from {SCHEMA}.fct_forecast_champions order by metric, horizon_bucket, archetype"""
        )
        # The fleet's champion accuracy per metric x bucket: test MAE of the champions and of
        # the 28-day mean on the same forecasts, weighted by the test forecasts behind each.
        out["by_metric"] = marts.rows(
            f"""
            select metric, horizon_bucket,
                   sum(test_mae_pct * n_test_forecasts) / sum(n_test_forecasts) as mae_pct,
                   sum(test_moving_average_mae_pct * n_test_forecasts) / sum(n_test_forecasts)
                       as moving_average_mae_pct,
                   sum(test_coverage_80 * n_test_forecasts) / sum(n_test_forecasts) as coverage_80,
                   sum(n_test_forecasts) as n_test_forecasts
            from {SCHEMA}.fct_forecast_champions
            where test_mae_pct is not null and test_moving_average_mae_pct is not null
              and n_test_forecasts > 0
            group by all order by metric, horizon_bucket"""
        )
        for row in out["by_metric"]:
            ma = row["moving_average_mae_pct"]
            row["ratio"] = row["mae_pct"] / ma if ma else None
    if marts.has("fct_backtest_metrics"):
        out["models"] = marts.rows(
            f"""
            select model, mae_pct, mae_ratio_vs_moving_average, mase, coverage_80, coverage_95,
                   n_forecasts
            from {SCHEMA}.fct_backtest_metrics
            where split = 'test' and metric = 'all' and archetype = 'all' and horizon_bucket = 'all'
              and period = 'all'
            order by mae_ratio_vs_moving_average nulls last, model"""
        )
    return out


def daily_metrics(marts: Marts) -> list[str]:
    """Metrics present in the daily facts (var metrics); identifiers, safe to use in SQL."""
    if not marts.has("fct_server_daily_metrics"):
        return []
    names = [
        r["metric"]
        for r in marts.rows(f"select distinct metric from {SCHEMA}.fct_server_daily_metrics order by 1")
    ]
    return [n for n in names if re.fullmatch(r"[a-z][a-z0-9_]*", n or "")]


def history_days(marts: Marts) -> int:
    if not marts.has("fct_server_daily_metrics"):
        return 0
    return marts.rows(
        f"select count(distinct metric_date) as n from {SCHEMA}.fct_server_daily_metrics "
        "where not is_low_coverage"
    )[0]["n"]


def empty_backtest_reasons(days: int, windows: list[int]) -> dict[str, str]:
    """Why a backtest mart is empty, in the planner's terms (the build log says the same)."""
    from capacity_forecaster.forecasting.backtest import MIN_TRAINING_DAYS
    from capacity_forecaster.risk.exceedance import MIN_ORIGIN_DAYS

    shortest = min(windows) if windows else 30
    return {
        "forecast": (
            f"No forecast backtest yet: the history has {days} well-covered day(s). A backtest origin "
            f"needs {MIN_TRAINING_DAYS} days of history before it and at least a week of known "
            f"actuals after it, so champions are the 28-day mean and accuracy cannot be measured."
        ),
        "risk": (
            f"No risk-flag backtest yet: the history has {days} well-covered day(s). Judging a "
            f"{shortest}-day flag at a past origin needs the {shortest} days after it to be known and "
            f"{MIN_ORIGIN_DAYS} days of history before it ({shortest + MIN_ORIGIN_DAYS + 1} days in "
            f"all), so the probabilities' calibration cannot be measured yet."
        ),
    }


# --- data quality ----------------------------------------------------------------------------


def quality(marts: Marts) -> dict[str, Any]:
    out: dict[str, Any] = {"totals": None, "daily": [], "reasons": [], "coverage": None}
    if marts.has("fct_load_reconciliation"):
        out["totals"] = marts.rows(
            f"""
            select count(*) as partitions, sum(rows_read) as rows_read,
                   sum(measurements_accepted) as accepted, sum(measurements_quarantined) as quarantined,
                   sum(measurements_capped) as capped,
                   count(*) filter (where not is_reconciled) as unreconciled
            from {SCHEMA}.fct_load_reconciliation"""
        )[0]
        out["daily"] = marts.rows(
            f"""
            select partition_date, measurements_expected, measurements_accepted,
                   measurements_quarantined, measurements_capped, is_reconciled
            from {SCHEMA}.fct_load_reconciliation order by partition_date"""
        )
    if marts.has("fct_quarantined_measurements"):
        out["reasons"] = marts.rows(
            f"""
            select quarantine_reason, count(*) as measurements, count(distinct source_file) as files,
                   min(partition_date) as first_day, max(partition_date) as last_day
            from {SCHEMA}.fct_quarantined_measurements group by 1 order by 2 desc"""
        )
    if marts.has("fct_server_daily_metrics"):
        out["coverage"] = marts.rows(
            f"""
            select avg(coverage_ratio) as avg_coverage,
                   count(*) filter (where is_low_coverage) as low_coverage_days
            from {SCHEMA}.fct_server_daily_metrics"""
        )[0]
    return out


def fleet_counts(marts: Marts) -> dict[str, Any]:
    if not marts.has("dim_servers"):
        return {"servers": 0, "live": 0, "short_history": 0, "size_unknown": 0}
    return marts.rows(
        f"""
        select count(*) as servers, count(*) filter (where not is_decommissioned) as live,
               count(*) filter (where is_short_history and not is_decommissioned) as short_history,
               count(*) filter (where (vcpus is null or memory_gb is null) and not is_decommissioned)
                   as size_unknown
        from {SCHEMA}.dim_servers"""
    )[0]


def risk_windows(marts: Marts) -> list[int]:
    if not marts.has("fct_capacity_risk"):
        return []
    return [
        r["window_days"]
        for r in marts.rows(f"select distinct window_days from {SCHEMA}.fct_capacity_risk order by 1")
    ]


def forecast_reach(marts: Marts) -> int | None:
    if not marts.has("fct_champion_forecasts"):
        return None
    return marts.rows(f"select max(horizon_days) as h from {SCHEMA}.fct_champion_forecasts")[0]["h"]


def by_key(rows: list[dict[str, Any]], *keys: str) -> dict[Any, list[dict[str, Any]]]:
    grouped: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[tuple(row[k] for k in keys) if len(keys) > 1 else row[keys[0]]].append(row)
    return grouped
