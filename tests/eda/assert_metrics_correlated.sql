-- Seed Stage 2: CPU and network load should move together (correlation > 0.2 on daily P95
-- pooled over the fleet); independent random metrics fail.
{{ config(severity = var('eda_pattern_severity')) }}

with

wide as (

    select
        server_id,
        metric_date,
        max(p95_pct) filter (where metric = 'cpu') as cpu_p95_pct,
        max(p95_pct) filter (where metric = 'network') as network_p95_pct
    from {{ ref('fct_server_daily_metrics') }}
    group by server_id, metric_date

)

select corr(cpu_p95_pct, network_p95_pct) as cpu_network_corr
from wide
having corr(cpu_p95_pct, network_p95_pct) is null or corr(cpu_p95_pct, network_p95_pct) < 0.2
