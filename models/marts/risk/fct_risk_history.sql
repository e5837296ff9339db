{{
    config(
        materialized = 'incremental',
        incremental_strategy = 'append',
        on_schema_change = 'fail'
    )
}}
-- Forecast of record: every build appends its server risk classes under the build's dbt
-- invocation id, so a planner can see how a flag moved from run to run.
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
