-- Champion model per archetype x metric x horizon bucket, chosen on the validation split
-- against the 28-day mean (moving_average), the model of record when nothing beats it:
--   * a challenger must beat it by var champion_min_gain (relative MAE on the same
--     forecasts): small validation wins on a few origins do not survive the next month;
--   * on evidence from at least var champion_min_servers servers (or every server of the
--     group, if fewer): Prophet, backtested on a sample, cannot win on four servers;
--   * the lowest ratio among those wins; otherwise the 28-day mean stays.
-- Accuracy is then reported on the later test split, which played no part in the choice.
with

metrics as (

    select *
    from {{ ref('fct_backtest_metrics') }}
    where archetype <> 'all' and metric <> 'all' and horizon_bucket <> 'all' and period = 'all'

),

validation as (

    select
        metrics.*,
        metrics.model = 'moving_average'
        or (
            metrics.n_servers >= least({{ var('champion_min_servers') }}, reference.n_servers)
            and metrics.mae_ratio_vs_moving_average <= 1 - {{ var('champion_min_gain') }}
        ) as is_eligible
    from metrics
    inner join metrics as reference
        on metrics.archetype = reference.archetype
        and metrics.metric = reference.metric
        and metrics.horizon_bucket = reference.horizon_bucket
        and reference.split = 'validation'
        and reference.model = 'moving_average'
    where metrics.split = 'validation'

),

ranked as (

    select
        *,
        row_number() over (
            partition by archetype, metric, horizon_bucket
            order by is_eligible desc, mae_ratio_vs_moving_average asc, model asc
        ) as rank_in_group
    from validation

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
            '%s: validation MAE %.3f x the 28-day mean''s over %d forecasts on %d servers '
            || '(a challenger needs <= %.2f on >= %d servers; runner-up %s %.3f); '
            || 'test MAE %.2f pts vs 28-day mean %.2f pts',
            case
                when champion.model = 'moving_average' then 'no challenger beat the 28-day mean'
                else 'beat the 28-day mean'
            end,
            champion.mae_ratio_vs_moving_average, champion.n_forecasts, champion.n_servers,
            1 - {{ var('champion_min_gain') }}, {{ var('champion_min_servers') }},
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

    from ranked as champion
    left join ranked as runner_up
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
