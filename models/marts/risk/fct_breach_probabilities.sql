-- The public probability grid: for every live server x metric x window, P(the largest daily
-- P95 of the window > threshold) at 50, 55 ... 95 % and at the series' own thresholds.
-- "P(srv-X > 90 % memory within 90 days)" is one row.
select
    server_id,
    metric,
    cast(window_days as integer) as window_days,
    threshold_pct,
    probability,
    is_extrapolated as is_probability_extrapolated,
    cast(origin_date as date) as origin_date
from {{ ref('int_breach_probabilities') }}
