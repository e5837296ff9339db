-- depends_on: {{ ref('int_daily_metrics_aggregated') }}
-- Intraday profile per server x metric x hour of day over the most recent var
-- hourly_profile_days (28) days: which
-- hours carry the load, and how much of it falls in business hours.
{#- The window ends at the newest accepted day (a future-dated file is quarantined, so it
    cannot move it). Its start is looked up at run time and inlined as a literal, so DuckDB
    prunes the Parquet partitions (a subquery bound made it scan every file). The upstream
    table is absent only when compiling an empty warehouse (`dbt compile`, sqlfluff). -#}
{%- set window_start = "date '1900-01-01'" %}
{%- if execute and load_relation(ref('int_daily_metrics_aggregated')) is not none %}
    {%- set result = run_query(
        "select cast(max(metric_date) - interval " ~ var('hourly_profile_days') ~ " day as date) from "
        ~ ref('int_daily_metrics_aggregated')) %}
    {%- if result and result.columns[0].values()[0] is not none %}
        {%- set window_start = "date '" ~ result.columns[0].values()[0] ~ "'" %}
    {%- endif %}
{%- endif %}
with

recent as (

    select *
    from {{ ref('int_metrics_hourly_checked') }}
    where
        row_quarantine_reason is null
        and partition_date > {{ window_start }}
    qualify {{ occurrence_number() }} = 1

),

measurements as (

    select server_id, metric, metric_value_pct, hour(measured_at) as hour_of_day
    from recent
    unpivot (
        {{ metric_columns_unpivot('metric_value_pct') }}
    )

),

profiled as (

    select
        server_id,
        metric,
        hour_of_day,
        avg({{ accepted_value_pct('metric_value_pct') }}) as mean_pct,
        quantile_cont({{ accepted_value_pct('metric_value_pct') }}, 0.95) as p95_pct,
        count(*) as hours_observed,
        hour_of_day >= {{ var('business_hours_start') }}
        and hour_of_day < {{ var('business_hours_end') }} as is_business_hour

    from measurements
    where {{ value_quarantine_reason('metric_value_pct') }} is null
    group by server_id, metric, hour_of_day

)

select * from profiled
