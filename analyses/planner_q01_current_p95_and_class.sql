-- Planner question 1: what is each server's current P95 and risk class per metric, in one row?
-- fct_server_summary has one row per live server with wide per-metric columns (var metrics);
-- risk columns use the planning window (risk_window_days, the longest of var risk_windows).
select
    server_id,
    owner,
    business_unit,
    archetype,
    worst_risk_class,
    cpu_current_p95_pct,
    cpu_risk_class,
    memory_current_p95_pct,
    memory_risk_class,
    disk_io_current_p95_pct,
    disk_io_risk_class,
    network_current_p95_pct,
    network_risk_class,
    origin_date
from {{ ref('fct_server_summary') }}
order by server_id
