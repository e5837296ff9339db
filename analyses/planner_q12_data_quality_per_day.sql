-- Planner question 12: how good was the data each day?
-- Per raw partition (UTC day): rows read, measurements accepted, quarantined (kept with a
-- reason in fct_quarantined_measurements) and capped at 100 % (over capacity: saturation),
-- whether the day reconciles, and the server-metric-days below var min_daily_coverage.
with

low_coverage as (

    select metric_date, count(*) filter (where is_low_coverage) as low_coverage_server_metric_days
    from {{ ref('fct_server_daily_metrics') }}
    group by metric_date

)

select
    reconciliation.partition_date,
    reconciliation.rows_read,
    reconciliation.measurements_accepted,
    reconciliation.measurements_quarantined,
    reconciliation.measurements_capped,
    reconciliation.is_reconciled,
    coalesce(low_coverage.low_coverage_server_metric_days, 0) as low_coverage_server_metric_days
from {{ ref('fct_load_reconciliation') }} as reconciliation
left join low_coverage on reconciliation.partition_date = low_coverage.metric_date
order by reconciliation.partition_date desc
