{{
    config(
        materialized = 'incremental',
        incremental_strategy = 'append',
        full_refresh = false,
        on_schema_change = 'append_new_columns'
    )
}}
-- The champion of record per archetype x metric x horizon bucket, chosen once per training
-- run. Append-only (the champion history, which the next run's choice depends on), so
-- --full-refresh keeps it.
--
-- The challenger is the model with the lowest validation MAE relative to the 28-day mean
-- (moving_average) on the same forecasts. The 28-day mean competes (ratio 1), so a model
-- that does not beat it is never used; ties and thin evidence (fewer than var
-- champion_min_forecasts validation forecasts) go to it. Stability: the challenger replaces
-- the previous run's champion only when its ratio is lower by var champion_min_gain
-- (relative) on this run's validation data; otherwise the champion of record stays, unless
-- it lacks evidence now or no longer beats the 28-day mean.
with

validation as (

    select *
    from {{ ref('int_backtest_metrics_aggregated') }}
    where split = 'validation'
        and archetype <> 'all' and metric <> 'all' and horizon_bucket <> 'all' and period = 'all'
    {%- if is_incremental() %}
        and run_id not in (select distinct run_id from {{ this }})
    {%- endif %}

),

ranked as (

    select
        *,
        case
            when model = 'moving_average' then 1.0
            when n_forecasts < {{ var('champion_min_forecasts') }} then null
            else mae_ratio_vs_moving_average
        end as eligible_ratio,
        row_number() over (
            partition by run_id, archetype, metric, horizon_bucket
            order by
                case
                    when model = 'moving_average' then 1.0
                    when n_forecasts < {{ var('champion_min_forecasts') }} then null
                    else mae_ratio_vs_moving_average
                end nulls last,
                model <> 'moving_average',
                model
        ) as rank_in_group
    from validation

),

incumbents as (

    {% if is_incremental() -%}
        select archetype, metric, horizon_bucket, champion_model
        from {{ this }}
        qualify row_number() over (
            partition by archetype, metric, horizon_bucket order by selected_at desc, run_id desc
        ) = 1
    {%- else -%}
        select
            cast(null as varchar) as archetype,
            cast(null as varchar) as metric,
            cast(null as varchar) as horizon_bucket,
            cast(null as varchar) as champion_model
        limit 0
    {%- endif %}

),

compared as (

    select
        challenger.run_id,
        challenger.archetype,
        challenger.metric,
        challenger.horizon_bucket,
        challenger.model as challenger_model,
        challenger.eligible_ratio as challenger_ratio,
        challenger.n_forecasts as challenger_n_forecasts,
        runner_up.model as runner_up_model,
        runner_up.eligible_ratio as runner_up_ratio,
        incumbents.champion_model as previous_champion_model,
        held.eligible_ratio as previous_champion_ratio,
        case
            when held.eligible_ratio is null then 'challenger'
            when held.model <> 'moving_average' and held.eligible_ratio >= 1 then 'challenger'
            when challenger.model = held.model then 'same'
            when challenger.eligible_ratio <= held.eligible_ratio * (1 - {{ var('champion_min_gain') }})
                then 'challenger'
            else 'incumbent'
        end as outcome
    from ranked as challenger
    left join ranked as runner_up
        on challenger.run_id = runner_up.run_id
        and challenger.archetype = runner_up.archetype
        and challenger.metric = runner_up.metric
        and challenger.horizon_bucket = runner_up.horizon_bucket
        and runner_up.rank_in_group = 2
    left join incumbents
        on challenger.archetype = incumbents.archetype
        and challenger.metric = incumbents.metric
        and challenger.horizon_bucket = incumbents.horizon_bucket
    left join ranked as held
        on challenger.run_id = held.run_id
        and challenger.archetype = held.archetype
        and challenger.metric = held.metric
        and challenger.horizon_bucket = held.horizon_bucket
        and incumbents.champion_model = held.model
    where challenger.rank_in_group = 1

),

final as (

    select
        run_id,
        archetype,
        metric,
        horizon_bucket,
        case when outcome = 'incumbent' then previous_champion_model else challenger_model end
            as champion_model,
        previous_champion_model,
        challenger_model,
        runner_up_model,
        case when outcome = 'incumbent' then previous_champion_ratio else challenger_ratio end
            as champion_validation_ratio,
        challenger_ratio,
        previous_champion_ratio,
        coalesce(
            (case when outcome = 'incumbent' then previous_champion_model else challenger_model end)
            <> previous_champion_model,
            true
        ) as is_champion_changed,
        printf(
            'lowest validation MAE vs the 28-day mean: %s %.3f over %d forecasts (runner-up %s %.3f)',
            challenger_model, challenger_ratio, challenger_n_forecasts,
            coalesce(runner_up_model, 'none'), coalesce(runner_up_ratio, 0)
        )
        || case
            when previous_champion_model is null then ''
            when outcome = 'same' then '; champion of record unchanged'
            when outcome = 'incumbent'
                then printf(
                    '; kept %s (%.3f): the challenger is not %.0f%% better',
                    previous_champion_model, previous_champion_ratio,
                    100 * {{ var('champion_min_gain') }}
                )
            when previous_champion_ratio is null
                then printf('; replaces %s, which has no validation evidence now', previous_champion_model)
            when previous_champion_model <> 'moving_average' and previous_champion_ratio >= 1
                then printf(
                    '; replaces %s (%.3f), which no longer beats the 28-day mean',
                    previous_champion_model, previous_champion_ratio
                )
            else printf(
                '; replaces %s (%.3f): at least %.0f%% better',
                previous_champion_model, previous_champion_ratio, 100 * {{ var('champion_min_gain') }}
            )
        end as selection_reason,
        {{ run_started_at_timestamp() }} as selected_at

    from compared

)

select * from final
