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
-- One rule, applied per training run on its validation split (var champion_min_gain, var
-- champion_min_servers): a model replaces the model of record only when its MAE on the same
-- forecasts is lower by champion_min_gain (relative), on evidence from at least
-- champion_min_servers servers (or every server of the group, if fewer). The 28-day mean
-- (moving_average) is the first model of record, so a challenger must beat it by the gain;
-- a sitting champion is replaced only by a challenger that beats the champion by the gain
-- too. A champion that no longer beats the 28-day mean by the gain on enough servers gives
-- way to the best model that does (the 28-day mean at worst).
with

validation as (

    select
        metrics.*,
        metrics.model = 'moving_average'
        or (
            metrics.n_servers >= least({{ var('champion_min_servers') }}, reference.n_servers)
            and metrics.mae_ratio_vs_moving_average <= 1 - {{ var('champion_min_gain') }}
        ) as is_eligible
    from {{ ref('int_backtest_metrics_aggregated') }} as metrics
    inner join {{ ref('int_backtest_metrics_aggregated') }} as reference
        on metrics.run_id = reference.run_id
        and metrics.archetype = reference.archetype
        and metrics.metric = reference.metric
        and metrics.horizon_bucket = reference.horizon_bucket
        and metrics.period = reference.period
        and reference.split = 'validation'
        and reference.model = 'moving_average'
    where
        metrics.split = 'validation'
        and metrics.archetype <> 'all' and metrics.metric <> 'all'
        and metrics.horizon_bucket <> 'all' and metrics.period = 'all'
    {%- if is_incremental() %}
        and metrics.run_id not in (select distinct run_id from {{ this }})
    {%- endif %}

),

ranked as (

    select
        *,
        case when is_eligible then mae_ratio_vs_moving_average end as eligible_ratio,
        row_number() over (
            partition by run_id, archetype, metric, horizon_bucket
            order by is_eligible desc, mae_ratio_vs_moving_average asc, model asc
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
    where false
    {%- endif %}

),

compared as (

    select
        challenger.run_id,
        challenger.archetype,
        challenger.metric,
        challenger.horizon_bucket,
        challenger.model as challenger_model,
        challenger.mae_ratio_vs_moving_average as challenger_ratio,
        challenger.n_forecasts as challenger_n_forecasts,
        challenger.n_servers as challenger_n_servers,
        runner_up.model as runner_up_model,
        runner_up.mae_ratio_vs_moving_average as runner_up_ratio,
        incumbents.champion_model as previous_champion_model,
        held.mae_ratio_vs_moving_average as previous_champion_ratio,
        held.eligible_ratio as previous_champion_eligible_ratio,
        case
            when challenger.model = incumbents.champion_model then 'same'
            when held.eligible_ratio is null then 'challenger'
            when challenger.mae_ratio_vs_moving_average <= held.eligible_ratio * (1 - {{ var('champion_min_gain') }})
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
            '%s: %s validation MAE %.3f x {{ reference_model_label() }}''s over %d forecasts on %d servers '
            || '(a challenger needs <= %.2f on >= %d servers; runner-up %s %.3f)',
            case
                when challenger_model = 'moving_average' then 'no challenger beat {{ reference_model_label() }}'
                else 'beat {{ reference_model_label() }}'
            end,
            challenger_model, challenger_ratio, challenger_n_forecasts, challenger_n_servers,
            1 - {{ var('champion_min_gain') }}, {{ var('champion_min_servers') }},
            coalesce(runner_up_model, 'none'), coalesce(runner_up_ratio, 0)
        )
        || case
            when previous_champion_model is null then ''
            when outcome = 'same' then '; champion of record unchanged'
            when outcome = 'incumbent'
                then printf(
                    '; kept %s (%.3f): the challenger is not %.0f%% better than it',
                    previous_champion_model, previous_champion_ratio,
                    100 * {{ var('champion_min_gain') }}
                )
            when previous_champion_ratio is null
                then printf('; replaces %s, which has no validation evidence now', previous_champion_model)
            when previous_champion_eligible_ratio is null
                then printf(
                    '; replaces %s (%.3f), which no longer beats {{ reference_model_label() }} by the gain on enough servers',
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
