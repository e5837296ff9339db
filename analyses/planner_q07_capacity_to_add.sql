-- Planner question 7: how much capacity must be added per server?
-- fct_server_summary sizes each at-risk metric so the 90th percentile of the planning
-- window's peak lands on the high threshold: vCPUs, GB, and % of disk / network capacity.
-- A lower bound where a series is saturated at 100 % (true demand unknown); NULL units when
-- the inventory has no size (is_size_known = false).
select
    server_id,
    owner,
    archetype,
    at_risk_metrics,
    vcpus,
    cpu_add_vcpus,
    memory_gb,
    memory_add_gb,
    disk_io_add_pct,
    network_add_pct,
    is_any_add_lower_bound,
    is_size_known,
    coalesce(breaching_since_date, first_likely_breach_date) as needed_by_date
from {{ ref('fct_server_summary') }}
where metrics_at_risk > 0
order by needed_by_date, server_id
