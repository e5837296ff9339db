{{
    config(
        materialized = 'incremental',
        incremental_strategy = 'append',
        full_refresh = false,
        on_schema_change = 'append_new_columns'
    )
}}
-- Risk of record per server: every build appends its server risk classes under the build's
-- dbt invocation id, so a planner can see how a flag moved from run to run. Append-only:
-- full_refresh false, so `--full-refresh` (the README's remedy after a reconciliation
-- failure) keeps the history; per-metric history: fct_capacity_risk_history.
select
    '{{ invocation_id }}' as run_id,
    server_id,
    archetype,
    risk_class,
    risk_state,
    driving_metric,
    window_days,
    days_to_breach,
    current_p95_pct,
    p_breach_high,
    is_low_confidence,
    origin_date,
    {{ run_started_at_timestamp() }} as recorded_at

from {{ ref('fct_server_risk') }}
