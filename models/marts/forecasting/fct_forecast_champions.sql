-- Champion per archetype x metric x horizon bucket for the training run in use: the champion
-- of record from int_forecast_champions_selected (lowest validation MAE relative to the
-- 28-day mean, replaced only by a challenger better by var champion_min_gain), with its
-- validation evidence and its accuracy on the later test split, which played no part in the
-- choice.
with

metrics as (

    select *
    from {{ ref('int_backtest_metrics_aggregated') }}
    where archetype <> 'all' and metric <> 'all' and horizon_bucket <> 'all' and period = 'all'

),

chosen as (

    select *
    from {{ ref('int_forecast_champions_selected') }}
    where run_id in (select metrics.run_id from metrics)

),

final as (

    select
        chosen.archetype,
        chosen.metric,
        chosen.horizon_bucket,
        chosen.champion_model,
        chosen.runner_up_model,
        chosen.selection_reason
        || printf(
            '; test MAE %.2f pts vs {{ reference_model_label() }} %.2f pts',
            coalesce(test.mae_pct, 0), coalesce(test.moving_average_mae_pct, 0)
        ) as selection_reason,
        validation.mae_pct as validation_mae_pct,
        validation.mae_ratio_vs_moving_average as validation_mae_ratio_vs_moving_average,
        validation.n_forecasts as n_validation_forecasts,
        validation.n_origins as n_validation_origins,
        validation.n_servers as n_validation_servers,
        test.mae_pct as test_mae_pct,
        test.moving_average_mae_pct as test_moving_average_mae_pct,
        test.mae_ratio_vs_moving_average as test_mae_ratio_vs_moving_average,
        test.mase as test_mase,
        test.mae_ratio_vs_seasonal_naive as test_mae_ratio_vs_seasonal_naive,
        test.coverage_80 as test_coverage_80,
        test.coverage_95 as test_coverage_95,
        test.n_forecasts as n_test_forecasts,
        chosen.previous_champion_model,
        chosen.challenger_model,
        chosen.is_champion_changed,
        chosen.run_id

    from chosen
    left join metrics as validation
        on chosen.run_id = validation.run_id
        and chosen.archetype = validation.archetype
        and chosen.metric = validation.metric
        and chosen.horizon_bucket = validation.horizon_bucket
        and chosen.champion_model = validation.model
        and validation.split = 'validation'
    left join metrics as test
        on chosen.run_id = test.run_id
        and chosen.archetype = test.archetype
        and chosen.metric = test.metric
        and chosen.horizon_bucket = test.horizon_bucket
        and chosen.champion_model = test.model
        and test.split = 'test'

)

select * from final
