{{
    config(
        materialized = 'incremental',
        incremental_strategy = 'append',
        full_refresh = false,
        on_schema_change = 'append_new_columns'
    )
}}
-- Forecast of record: every build appends the champion forecasts it published, per server x
-- metric x origin x horizon (every horizon up to var archive_daily_horizon_days, weekly
-- after, and the last), so what was said on a day can be checked against what happened
-- (fct_forecast_archive_actuals). Append-only: a later build with the same origin does not
-- overwrite it, and --full-refresh keeps it.
with

forecasts as (

    select * from {{ ref('fct_champion_forecasts') }}

),

longest as (

    select max(horizon_days) as horizon_days from forecasts

),

kept as (

    select forecasts.*
    from forecasts
    cross join longest
    where
        forecasts.horizon_days <= {{ var('archive_daily_horizon_days') }}
        or forecasts.horizon_days % 7 = 0
        or forecasts.horizon_days = longest.horizon_days

)

select
    kept.server_id,
    kept.metric,
    kept.archetype,
    kept.model,
    kept.run_id,
    kept.horizon_days,
    kept.yhat_pct,
    kept.yhat_lower_80_pct,
    kept.yhat_upper_80_pct,
    kept.yhat_lower_95_pct,
    kept.yhat_upper_95_pct,
    kept.is_low_confidence,
    kept.origin_date,
    kept.forecast_date,
    '{{ invocation_id }}' as build_invocation_id,
    {{ run_started_at_timestamp() }} as recorded_at

from kept
{%- if is_incremental() %}
    where not exists (
        select 1
        from {{ this }} as archived
        where archived.server_id = kept.server_id
            and archived.metric = kept.metric
            and archived.origin_date = kept.origin_date
    )
{%- endif %}
