-- Every training run x model, forecasts and breach probabilities (append-only sources that
-- --full-refresh keeps): what was fitted, on which window, with which parameters, rows,
-- fit and backtest time, when and why the run was made, where its artifact is and whether
-- that artifact has been pruned since.
with

trained as (

    select 'forecast' as component, * from {{ ref('int_forecast_models_trained') }}
    union all by name
    select 'risk' as component, * from {{ ref('int_risk_models_trained') }}

),

decisions as (

    select * from {{ ref('int_forecast_runs_decided') }}
    union all by name
    select * from {{ ref('int_risk_runs_decided') }}

),

runs as (

    select run_id, reason, config_sha256, data_fingerprint_sha256
    from decisions
    where decision = 'retrain'

),

pruned_runs as (

    select unnest(string_split(pruned_run_ids, ',')) as run_id, decided_at
    from decisions
    where pruned_run_ids is not null

),

pruned as (

    select run_id, min(decided_at) as artifact_pruned_at
    from pruned_runs
    group by run_id

),

in_use as (

    select component, run_id
    from decisions
    qualify row_number() over (partition by component order by build_id desc) = 1

),

final as (

    select
        trained.run_id,
        trained.model,
        trained.component,
        trained.scopes,
        trained.params_json,
        cast(trained.artifact_path as varchar) as artifact_path,  -- NULL when no model stored one
        cast(trained.artifact_sha256 as varchar) as artifact_sha256,
        runs.reason as decision_reason,
        runs.config_sha256,
        runs.data_fingerprint_sha256,
        trained.series_count,
        trained.rows_used,
        trained.fit_seconds,
        trained.backtest_seconds,
        in_use.run_id is not null as is_in_use,
        cast(trained.train_start_date as date) as train_start_date,
        cast(trained.train_end_date as date) as train_end_date,
        trained.trained_at,
        pruned.artifact_pruned_at

    from trained
    left join runs on trained.run_id = runs.run_id
    left join pruned on trained.run_id = pruned.run_id
    left join in_use on trained.component = in_use.component and trained.run_id = in_use.run_id

)

select * from final
