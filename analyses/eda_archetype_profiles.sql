-- Seed Stage 2: per-archetype level, spread and growth of each metric.
-- Run: dbt show --profiles-dir profiles --select eda_archetype_profiles --limit 50
with

daily as (

    select * from {{ ref('fct_server_daily_metrics') }}

),

bounds as (

    select min(metric_date) as first_date, max(metric_date) as last_date
    from daily

)

select
    daily.archetype,
    daily.metric,
    count(distinct daily.server_id) as servers,
    round(avg(daily.p95_pct), 1) as avg_daily_p95_pct,
    round(quantile_cont(daily.p95_pct, 0.9), 1) as p90_of_daily_p95_pct,
    round(
        avg(daily.p95_pct) filter (where daily.metric_date >= bounds.last_date - 90)
        - avg(daily.p95_pct) filter (where daily.metric_date < bounds.first_date + 90), 1
    ) as change_first_to_last_quarter_pct
from daily
cross join bounds
group by daily.archetype, daily.metric
order by daily.archetype, daily.metric
