-- Seed Stage 2: correlation matrix of daily P95 across the four metrics, per archetype.
with wide as (
    select
        archetype, server_id, metric_date,
        max(p95_pct) filter (where metric = 'cpu') as cpu,
        max(p95_pct) filter (where metric = 'memory') as memory,
        max(p95_pct) filter (where metric = 'disk_io') as disk_io,
        max(p95_pct) filter (where metric = 'network') as network
    from {{ ref('fct_server_daily_metrics') }}
    group by all
)

select
    archetype,
    round(corr(cpu, memory), 2) as cpu_memory,
    round(corr(cpu, disk_io), 2) as cpu_disk_io,
    round(corr(cpu, network), 2) as cpu_network,
    round(corr(memory, disk_io), 2) as memory_disk_io,
    round(corr(memory, network), 2) as memory_network,
    round(corr(disk_io, network), 2) as disk_io_network
from wide
group by archetype
order by archetype
