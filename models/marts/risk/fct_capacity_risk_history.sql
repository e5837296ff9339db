{{
    config(
        materialized = 'incremental',
        incremental_strategy = 'append',
        full_refresh = false,
        on_schema_change = 'append_new_columns'
    )
}}
-- Risk of record per metric: every build appends its server x metric x window states and
-- probabilities (fct_capacity_risk) under the build's dbt invocation id, with the
-- breach-probability run that scored them. Append-only; --full-refresh keeps it.
select
    '{{ invocation_id }}' as run_id,
    server_id,
    metric,
    archetype,
    risk_state,
    risk_class,
    {{ current_training_run('risk') }} as model_run_id,
    window_days,
    days_to_breach,
    current_p95_pct,
    p_breach_high,
    p_breach_very_high,
    p_exceed_consolidation_ceiling,
    is_low_confidence,
    origin_date,
    {{ run_started_at_timestamp() }} as recorded_at

from {{ ref('fct_capacity_risk') }}
