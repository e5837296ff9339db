{{
    config(
        materialized = 'incremental',
        incremental_strategy = 'delete+insert',
        unique_key = 'metric_date',
        on_schema_change = 'fail'
    )
}}
-- depends_on: {{ ref('int_raw_partitions_loaded') }}
{%- set history_days = [window_sizes('feature_lags') | max, window_sizes('rolling_windows') | max] | max %}
-- The SQL feature layer, long format (one row per server x metric x day, gap days included
-- so that "lag k" always means k calendar days). Lags and rolling windows come from the
-- feature_lags / rolling_windows vars via macros.
--
-- Leakage rule: every feature on row t uses data from days <= t only. To forecast day t+h,
-- take the features of the origin row t (plus the calendar of t+h, which is known ahead).
-- Low-coverage days are not used as values (p95 NULL, is_observed false) but stay as rows.
-- Incremental: rows from the first partition loaded in this run onwards are recomputed,
-- reading {{ history_days }} days of earlier history (the longest lag or window) for them.
with

recompute_from as (

    {% if is_incremental() -%}
    select min(partition_date) as first_date
    from {{ ref('int_raw_partitions_loaded') }}
    where loaded_at = {{ run_started_at_timestamp() }}
    {%- else -%}
    select date '1900-01-01' as first_date
    {%- endif %}

),

daily as (

    select *
    from {{ ref('int_daily_metrics_aggregated') }}
    where
        metric_date
        >= (select recompute_from.first_date from recompute_from) - interval {{ history_days }} day

),

calendar as (

    select * from {{ ref('int_calendar_days_generated') }}

),

series_bounds as (

    select server_id, metric, min(metric_date) as first_date, max(metric_date) as last_date
    from {{ ref('int_daily_metrics_aggregated') }}
    group by server_id, metric

),

grid as (

    select series_bounds.server_id, series_bounds.metric, calendar.calendar_date as metric_date
    from series_bounds
    inner join calendar
        on calendar.calendar_date between series_bounds.first_date and series_bounds.last_date
    where
        calendar.calendar_date
        >= (select recompute_from.first_date from recompute_from) - interval {{ history_days }} day

),

observed as (

    select
        grid.server_id,
        grid.metric,
        case when not daily.is_low_coverage then daily.p95_pct end as p95_pct,
        coalesce(not daily.is_low_coverage, false) as is_observed,
        grid.metric_date

    from grid
    left join daily
        on grid.server_id = daily.server_id
        and grid.metric = daily.metric
        and grid.metric_date = daily.metric_date

),

features as (

    select
        observed.server_id,
        observed.metric,
        observed.p95_pct,
        {{ lag_features('observed.p95_pct', 'observed.server_id, observed.metric', 'observed.metric_date') }},
        {{ rolling_features('observed.p95_pct', 'observed.server_id, observed.metric', 'observed.metric_date') }},
        calendar.day_of_week,
        calendar.month_of_year,
        calendar.days_to_quarter_end,
        observed.is_observed,
        calendar.is_weekend,
        calendar.is_month_end,
        calendar.is_end_of_quarter,
        calendar.is_holiday,
        observed.metric_date

    from observed
    inner join calendar on observed.metric_date = calendar.calendar_date

)

select * from features
where metric_date >= (select recompute_from.first_date from recompute_from)
