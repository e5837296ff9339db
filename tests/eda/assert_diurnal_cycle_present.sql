-- Seed Stage 2: servers must show an intraday cycle. The median server's CPU swing between
-- its busiest and quietest hour of day must be at least 5 points. Flat data fails.
{{ config(severity = var('eda_pattern_severity')) }}

with

swings as (

    select server_id, max(mean_pct) - min(mean_pct) as swing_pct
    from {{ ref('int_hourly_profiles_aggregated') }}
    where metric = 'cpu'
    group by server_id

)

select median(swing_pct) as median_swing_pct
from swings
having median(swing_pct) is null or median(swing_pct) < 5
