-- Seed Stage 2: data gaps per server: days expected in service vs days with data, low
-- coverage days, and quarantined measurements.
with expected as (
    select
        server_id, first_metric_date, last_metric_date,
        datediff('day', first_metric_date, last_metric_date) + 1 as days_expected,
        days_with_data
    from {{ ref('dim_servers') }}
),

coverage as (
    select
        server_id,
        count(*) filter (where is_low_coverage) / 4 as low_coverage_days,
        round(avg(coverage_ratio), 3) as avg_coverage_ratio
    from {{ ref('fct_server_daily_metrics') }}
    group by server_id
),

quarantine as (
    select server_id, count(*) as quarantined_measurements
    from {{ ref('fct_quarantined_measurements') }}
    group by server_id
)

select
    expected.*,
    expected.days_expected - expected.days_with_data as days_missing,
    coverage.low_coverage_days,
    coverage.avg_coverage_ratio,
    coalesce(quarantine.quarantined_measurements, 0) as quarantined_measurements
from expected
left join coverage using (server_id)
left join quarantine using (server_id)
order by days_missing desc, coverage.avg_coverage_ratio asc
