-- Forecasts 1..H days past the origin (the last well-covered day) for every live server x
-- metric, from every enabled model. is_champion marks the one to use: the champion of the
-- series' archetype x metric for the forecast's horizon bucket (a bucket the validation
-- could not reach borrows the champion of the longest bucket it did reach), or the pooled
-- archetype forecast for cold-start series (or when the champion could not forecast a
-- series) - those are is_low_confidence, like horizons longer than the backtest could
-- validate (short history: intervals extrapolated).
with

scored as (

    select *, {{ horizon_bucket('horizon_days') }} as horizon_bucket
    from {{ ref('int_forecasts_scored') }}

),

live_servers as (

    select server_id from {{ ref('dim_servers') }}
    where not is_decommissioned

),

series_groups as (

    select distinct archetype, metric from scored

),

buckets as (

    select unnest({{ horizon_bucket_labels() }}) as horizon_bucket

),

bucket_grid as (

    select series_groups.archetype, series_groups.metric, buckets.horizon_bucket
    from series_groups
    cross join buckets

),

champions as (

    select
        bucket_grid.archetype,
        bucket_grid.metric,
        bucket_grid.horizon_bucket,
        last_value(champions.champion_model ignore nulls) over (
            partition by bucket_grid.archetype, bucket_grid.metric
            order by bucket_grid.horizon_bucket
            rows between unbounded preceding and current row
        ) as champion_model
    from bucket_grid
    left join {{ ref('fct_forecast_champions') }} as champions
        on bucket_grid.archetype = champions.archetype
        and bucket_grid.metric = champions.metric
        and bucket_grid.horizon_bucket = champions.horizon_bucket

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
        on scored.archetype = champions.archetype
        and scored.metric = champions.metric
        and scored.horizon_bucket = champions.horizon_bucket

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
        horizon_bucket,
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
