-- Planner question 6: which servers will breach in the next 30 days, and when?
-- Forecast breaches of the 30-day window: P(largest daily P95 of the next 30 days > high
-- threshold) reached var breach_probability_cutoff; first_likely_breach_date is the first
-- day the crossing probability reaches it (servers breaching today are question 5).
select
    server_id,
    archetype,
    metric,
    risk_class,
    first_likely_breach_date,
    days_to_breach,
    round(p_breach_high, 3) as p_breach_high,
    high_risk_threshold_pct,
    round(current_p95_pct, 1) as current_p95_pct,
    is_low_confidence
from {{ ref('fct_capacity_risk') }}
where window_days = 30 and risk_state = 'forecast_breach'
order by first_likely_breach_date, server_id, metric
