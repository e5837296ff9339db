-- Backtest accuracy by model x metric x archetype x horizon bucket x period, with 'all'
-- rows for every rollup (CUBE), so "overall", "quarter-end weeks" and "per archetype" are
-- plain filters. Cold-start series are excluded (they are scored by archetype_pooled).
with

predictions as (

    select
        *,
        case
            when horizon_days <= 7 then '01-07'
            when horizon_days <= 30 then '08-30'
            else '31-90'
        end as horizon_bucket,
        case when is_end_of_quarter then 'quarter_end' else 'normal' end as period,
        actual_pct - yhat_pct as error_pct
    from {{ ref('int_forecast_backtest_predictions') }}
    where not is_cold_start

),

aggregated as (

    select
        model,
        coalesce(metric, 'all') as metric,
        coalesce(archetype, 'all') as archetype,
        coalesce(horizon_bucket, 'all') as horizon_bucket,
        coalesce(period, 'all') as period,
        count(*) as n_forecasts,
        count(distinct server_id) as n_servers,
        avg(abs(error_pct)) as mae_pct,
        sqrt(avg(error_pct * error_pct)) as rmse_pct,
        avg(abs(error_pct) / actual_pct * 100) filter (where actual_pct >= 1) as mape_pct,
        avg(abs(error_pct) / scale) as mase,
        avg(-error_pct) as bias_pct,
        avg(case when actual_pct between yhat_lower_80_pct and yhat_upper_80_pct then 1.0 else 0.0 end)
            as coverage_80,
        avg(case when actual_pct between yhat_lower_95_pct and yhat_upper_95_pct then 1.0 else 0.0 end)
            as coverage_95,
        avg(
            case when actual_pct between native_lower_80_pct and native_upper_80_pct then 1.0 else 0.0 end
        ) filter (where native_lower_80_pct is not null) as native_coverage_80,
        avg(
            case when actual_pct between native_lower_95_pct and native_upper_95_pct then 1.0 else 0.0 end
        ) filter (where native_lower_95_pct is not null) as native_coverage_95,
        avg(
            (
                {{ pinball('actual_pct', 'yhat_lower_95_pct', 0.025) }}
                + {{ pinball('actual_pct', 'yhat_lower_80_pct', 0.1) }}
                + {{ pinball('actual_pct', 'yhat_upper_80_pct', 0.9) }}
                + {{ pinball('actual_pct', 'yhat_upper_95_pct', 0.975) }}
            ) / 4
        ) as pinball_loss

    from predictions
    group by model, cube(metric, archetype, horizon_bucket, period)

),

with_baseline as (

    select
        aggregated.*,
        aggregated.mae_pct / baseline.mae_pct as mae_ratio_vs_seasonal_naive
    from aggregated
    left join aggregated as baseline
        on baseline.model = 'seasonal_naive'
        and aggregated.metric = baseline.metric
        and aggregated.archetype = baseline.archetype
        and aggregated.horizon_bucket = baseline.horizon_bucket
        and aggregated.period = baseline.period

)

select * from with_baseline
