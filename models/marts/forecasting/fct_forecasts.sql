-- Forecasts 1..H days past the last observed day for every live server x metric, from every
-- enabled model. is_champion marks the one to use: the archetype x metric champion, or the
-- pooled archetype forecast for cold-start series (or when the champion could not forecast
-- a series) - those are is_low_confidence, like horizons longer than the backtest could
-- validate (short history: intervals extrapolated).
with

scored as (

    select * from {{ ref('int_forecasts_scored') }}

),

live_servers as (

    select server_id from {{ ref('dim_servers') }}
    where not is_decommissioned

),

champions as (

    select archetype, metric, champion_model from {{ ref('fct_forecast_champions') }}

),

prioritised as (

    select
        scored.*,
        case
            when not scored.is_cold_start and scored.model = champions.champion_model then 1
            when scored.model = 'archetype_pooled' then 2
            else 3
        end as choice_priority
    from scored
    inner join live_servers on scored.server_id = live_servers.server_id
    left join champions
        on scored.archetype = champions.archetype and scored.metric = champions.metric

),

chosen as (

    select
        *,
        choice_priority <= 2 and row_number() over (
            partition by server_id, metric, forecast_date order by choice_priority, model
        ) = 1 as is_champion
    from prioritised

),

final as (

    select
        server_id,
        metric,
        archetype,
        model,
        run_id,
        horizon_days,
        history_days,
        yhat_pct,
        yhat_lower_80_pct,
        yhat_upper_80_pct,
        yhat_lower_95_pct,
        yhat_upper_95_pct,
        is_champion,
        is_cold_start or is_interval_extrapolated or (is_champion and choice_priority = 2)
            as is_low_confidence,
        cast(origin_date as date) as origin_date,
        cast(forecast_date as date) as forecast_date,
        trained_at

    from chosen

)

select * from final
