-- Planner question 5: which servers breach now, and since when?
-- risk_state = 'breaching_now': the origin day's daily P95 is above the high threshold;
-- breaching_since_date starts the current run of days above it (window-independent, so the
-- planning window's rows are used).
with

planning_window as (

    select max(window_days) as window_days from {{ ref('fct_capacity_risk') }}

)

select
    risk.server_id,
    risk.archetype,
    risk.metric,
    risk.risk_class,
    round(risk.current_p95_pct, 1) as current_p95_pct,
    risk.high_risk_threshold_pct,
    risk.breaching_since_date,
    datediff('day', risk.breaching_since_date, risk.origin_date) + 1 as days_breaching,
    risk.origin_date
from {{ ref('fct_capacity_risk') }} as risk
inner join planning_window on risk.window_days = planning_window.window_days
where risk.risk_state = 'breaching_now'
order by risk.breaching_since_date, risk.server_id, risk.metric
