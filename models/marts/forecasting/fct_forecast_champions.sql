-- Champion model per archetype x metric: the lowest backtest MASE over horizons 1-90 on the
-- holdout, with the evidence behind the choice.
with

overall as (

    select *
    from {{ ref('fct_backtest_metrics') }}
    where archetype <> 'all' and metric <> 'all' and horizon_bucket = 'all' and period = 'all'

),

ranked as (

    select
        *,
        row_number() over (partition by archetype, metric order by mase, model) as rank_in_group,
        max(mase) filter (where model = 'seasonal_naive') over (partition by archetype, metric)
            as seasonal_naive_mase
    from overall

),

runner_up as (

    select archetype, metric, model as runner_up_model, mase as runner_up_mase
    from ranked
    where rank_in_group = 2

),

final as (

    select
        ranked.archetype,
        ranked.metric,
        ranked.model as champion_model,
        runner_up.runner_up_model,
        printf(
            'lowest holdout MASE %.3f over %d forecasts (horizons 1-90); seasonal naive %.3f; runner-up %s %.3f; 80%% interval coverage %.1f%%',
            ranked.mase, ranked.n_forecasts, ranked.seasonal_naive_mase,
            coalesce(runner_up.runner_up_model, 'none'), runner_up.runner_up_mase,
            100 * ranked.coverage_80
        ) as selection_reason,
        ranked.mase,
        ranked.seasonal_naive_mase,
        ranked.mase / ranked.seasonal_naive_mase as mase_ratio_vs_seasonal_naive,
        runner_up.runner_up_mase,
        ranked.mae_pct,
        ranked.coverage_80,
        ranked.coverage_95,
        ranked.n_forecasts

    from ranked
    left join runner_up
        on ranked.archetype = runner_up.archetype and ranked.metric = runner_up.metric
    where ranked.rank_in_group = 1

)

select * from final
