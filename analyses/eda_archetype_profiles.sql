-- Seed Stage 2: per-archetype level, spread and growth of each metric.
-- Run: dbt show --profiles-dir profiles --select eda_archetype_profiles --limit 50
select
    archetype,
    metric,
    count(distinct server_id) as servers,
    round(avg(p95_pct), 1) as avg_daily_p95_pct,
    round(quantile_cont(p95_pct, 0.9), 1) as p90_of_daily_p95_pct,
    round(avg(p95_pct) filter (where metric_date >= (select max(metric_date) from {{ ref('fct_server_daily_metrics') }}) - 90)
        - avg(p95_pct) filter (where metric_date < (select min(metric_date) from {{ ref('fct_server_daily_metrics') }}) + 90), 1)
        as change_first_to_last_quarter_pct
from {{ ref('fct_server_daily_metrics') }}
group by archetype, metric
order by archetype, metric
