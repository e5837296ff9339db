{{
    config(
        materialized = 'incremental',
        incremental_strategy = 'append',
        on_schema_change = 'append_new_columns',
        pre_hook = "{% if is_incremental() %}delete from {{ this }} where run_id not in
            (select distinct run_id from {{ ref('int_forecast_backtest_predictions') }}){% endif %}"
    )
}}
-- Backtest accuracy of the training run in use (published as fct_backtest_metrics). Computed
-- once per run: a build that reuses the run finds its metrics here and adds nothing (the
-- pre-hook drops the metrics of a run that is no longer in use).
--
-- Backtest accuracy by model x split x metric x archetype x horizon bucket x period, with
-- 'all' rows for every rollup (CUBE), so "overall", "quarter-end weeks" and "per archetype"
-- are plain filters. split = validation (earlier origins, used to choose champions) or test
-- (later origins, never used for choosing: the honest accuracy). Cold-start series are
-- excluded (they are scored by archetype_pooled).
--
-- Every model is also compared with the 28-day mean (moving_average) on exactly the same
-- series, origins and horizons: mae_ratio_vs_moving_average < 1 beats it. Models backtested
-- on a sample (Prophet) are compared on their sample only.
with

predictions as (

    select
        *,
        {{ horizon_bucket('horizon_days') }} as horizon_bucket,
        case when is_end_of_quarter then 'quarter_end' else 'normal' end as period,
        actual_pct - yhat_pct as error_pct
    from {{ ref('int_forecast_backtest_predictions') }}
    where not is_cold_start
    {%- if is_incremental() %}
        and run_id not in (select distinct run_id from {{ this }})
    {%- endif %}

),

matched as (

    select
        predictions.*,
        abs(predictions.actual_pct - baseline.yhat_pct) as baseline_abs_error_pct,
        abs(predictions.actual_pct - naive.yhat_pct) as seasonal_naive_abs_error_pct
    from predictions
    left join predictions as baseline
        on baseline.model = 'moving_average'
        and predictions.server_id = baseline.server_id
        and predictions.metric = baseline.metric
        and predictions.origin_date = baseline.origin_date
        and predictions.horizon_days = baseline.horizon_days
        and predictions.run_id = baseline.run_id
    left join predictions as naive
        on naive.model = 'seasonal_naive'
        and predictions.server_id = naive.server_id
        and predictions.metric = naive.metric
        and predictions.origin_date = naive.origin_date
        and predictions.horizon_days = naive.horizon_days
        and predictions.run_id = naive.run_id

),

aggregated as (

    select
        run_id,
        model,
        split,
        coalesce(metric, 'all') as metric,
        coalesce(archetype, 'all') as archetype,
        coalesce(horizon_bucket, 'all') as horizon_bucket,
        coalesce(period, 'all') as period,
        count(*) as n_forecasts,
        count(distinct server_id) as n_servers,
        count(distinct origin_date) as n_origins,
        avg(abs(error_pct)) as mae_pct,
        sqrt(avg(error_pct * error_pct)) as rmse_pct,
        avg(abs(error_pct) / actual_pct * 100) filter (where actual_pct >= 1) as mape_pct,
        avg(abs(error_pct) / scale) as mase,
        avg(-error_pct) as bias_pct,
        sum(abs(error_pct)) / nullif(sum(baseline_abs_error_pct), 0) as mae_ratio_vs_moving_average,
        sum(abs(error_pct)) / nullif(sum(seasonal_naive_abs_error_pct), 0) as mae_ratio_vs_seasonal_naive,
        avg(baseline_abs_error_pct) as moving_average_mae_pct,
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

    from matched
    group by run_id, model, split, cube(metric, archetype, horizon_bucket, period)

)

select * from aggregated
