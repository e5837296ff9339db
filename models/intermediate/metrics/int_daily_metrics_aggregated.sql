{{
    config(
        materialized = 'incremental',
        incremental_strategy = 'delete+insert',
        unique_key = 'metric_date',
        on_schema_change = 'fail'
    )
}}
-- Accepted measurements rolled up to server x metric x UTC day. Incremental by day with the
-- same look-back as the gate, so re-gated partitions are re-aggregated.
with

accepted as (

    select server_id, metric, metric_value_pct, cast(measured_at as date) as metric_date
    from {{ ref('int_measurements_gated') }}
    where quarantine_reason is null
    {% if is_incremental() %}
      and partition_date >= (
          select coalesce(max(metric_date), date '1900-01-01') from {{ this }}
      ) - interval {{ var('late_data_lookback_days') }} day
    {% endif %}

),

aggregated as (

    select
        server_id,
        metric,
        quantile_cont(metric_value_pct, 0.95) as p95_pct,
        avg(metric_value_pct) as mean_pct,
        max(metric_value_pct) as max_pct,
        count(*) as hours_present,
        count(*) / 24.0 as coverage_ratio,
        count(*) / 24.0 < {{ var('min_daily_coverage') }} as is_low_coverage,
        metric_date

    from accepted
    group by server_id, metric, metric_date

)

select * from aggregated
