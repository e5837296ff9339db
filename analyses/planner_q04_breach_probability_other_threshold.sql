-- Planner question 4: what is P(srv-X > 90 % memory within 90 days), a threshold not configured?
-- fct_breach_probabilities holds P(largest daily P95 of the window >
-- threshold_pct) at 50, 55 ... 95 % and at each series' own thresholds: one row per server.
-- Add `and server_id = 'srv-0042'` for one server.
select
    server_id,
    metric,
    window_days,
    threshold_pct,
    round(probability, 3) as probability,
    is_probability_extrapolated,
    origin_date
from {{ ref('fct_breach_probabilities') }}
where metric = 'memory' and window_days = 90 and threshold_pct = 90
order by probability desc, server_id asc
