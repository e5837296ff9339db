-- Archived forecasts of record next to what happened: one row per archived server x metric
-- x origin x horizon whose day has a trusted daily P95 (not low coverage). "How good was last
-- month's forecast for srv-0042 memory" is one filter and one average.
with

archive as (

    select * from {{ ref('fct_forecast_archive') }}

),

actuals as (

    select server_id, metric, metric_date, p95_pct
    from {{ ref('fct_server_daily_metrics') }}
    where not is_low_coverage

)

select
    archive.server_id,
    archive.metric,
    archive.archetype,
    archive.model,
    archive.run_id,
    archive.horizon_days,
    archive.yhat_pct,
    archive.yhat_lower_80_pct,
    archive.yhat_upper_80_pct,
    archive.yhat_lower_95_pct,
    archive.yhat_upper_95_pct,
    actuals.p95_pct as actual_pct,
    actuals.p95_pct - archive.yhat_pct as error_pct,
    abs(actuals.p95_pct - archive.yhat_pct) as abs_error_pct,
    actuals.p95_pct between archive.yhat_lower_80_pct and archive.yhat_upper_80_pct as is_within_80,
    actuals.p95_pct between archive.yhat_lower_95_pct and archive.yhat_upper_95_pct as is_within_95,
    archive.is_low_confidence,
    archive.origin_date,
    archive.forecast_date,
    archive.recorded_at

from archive
inner join actuals
    on archive.server_id = actuals.server_id
    and archive.metric = actuals.metric
    and archive.forecast_date = actuals.metric_date
