-- Champion model per archetype x metric x horizon bucket: the lowest validation MAE relative
-- to the 28-day mean (moving_average) on the same forecasts. The 28-day mean competes too
-- (ratio 1), so a model that does not beat it is never used; ties and thin evidence
-- (fewer than var champion_min_forecasts validation forecasts) go to the simpler baseline.
-- Accuracy is then reported on the later test split, which played no part in the choice.
with

metrics as (

    select *
    from {{ ref('fct_backtest_metrics') }}
    where archetype <> 'all' and metric <> 'all' and horizon_bucket <> 'all' and period = 'all'

),

validation as (

    select
        *,
        row_number() over (
            partition by archetype, metric, horizon_bucket
            order by
                case
                    when model = 'moving_average' then 1.0
                    when n_forecasts < {{ var('champion_min_forecasts') }} then null
                    else mae_ratio_vs_moving_average
                end nulls last,
                model <> 'moving_average',
                model
        ) as rank_in_group
    from metrics
    where split = 'validation'

),

test as (

    select * from metrics
    where split = 'test'

),

final as (

    select
        champion.archetype,
        champion.metric,
        champion.horizon_bucket,
        champion.model as champion_model,
        runner_up.model as runner_up_model,
        printf(
            'lowest validation MAE vs the 28-day mean: %.3f over %d forecasts (runner-up %s %.3f); '
            || 'test MAE %.2f pts vs 28-day mean %.2f pts',
            champion.mae_ratio_vs_moving_average, champion.n_forecasts,
            coalesce(runner_up.model, 'none'), coalesce(runner_up.mae_ratio_vs_moving_average, 0),
            coalesce(test.mae_pct, 0), coalesce(test.moving_average_mae_pct, 0)
        ) as selection_reason,
        champion.mae_pct as validation_mae_pct,
        champion.mae_ratio_vs_moving_average as validation_mae_ratio_vs_moving_average,
        champion.n_forecasts as n_validation_forecasts,
        test.mae_pct as test_mae_pct,
        test.moving_average_mae_pct as test_moving_average_mae_pct,
        test.mae_ratio_vs_moving_average as test_mae_ratio_vs_moving_average,
        test.mase as test_mase,
        test.mae_ratio_vs_seasonal_naive as test_mae_ratio_vs_seasonal_naive,
        test.coverage_80 as test_coverage_80,
        test.coverage_95 as test_coverage_95,
        test.n_forecasts as n_test_forecasts

    from validation as champion
    left join validation as runner_up
        on champion.archetype = runner_up.archetype
        and champion.metric = runner_up.metric
        and champion.horizon_bucket = runner_up.horizon_bucket
        and runner_up.rank_in_group = 2
    left join test
        on champion.archetype = test.archetype
        and champion.metric = test.metric
        and champion.horizon_bucket = test.horizon_bucket
        and champion.model = test.model
    where champion.rank_in_group = 1

)

select * from final
