-- Row accounting per partition: what the raw files hold (counted straight from the source,
-- independently of the gate) against what the gate accepted and quarantined.
-- measurements_expected = rows_read x number of metrics. measurements_capped (saturation) are
-- part of the accepted ones: values over 100 % used as 100 (over_capacity_policy 'cap').
with

rows_read as (

    select cast("date" as date) as partition_date, count(*) as rows_read
    from {{ source('raw', 'metrics_hourly') }}
    group by 1

),

accepted as (

    select
        partition_date,
        cast(sum(hours_present) as bigint) as measurements_accepted,
        cast(sum(hours_over_capacity) as bigint) as measurements_capped
    from {{ ref('int_daily_metrics_aggregated') }}
    group by 1

),

quarantined as (

    select partition_date, count(*) as measurements_quarantined
    from {{ ref('int_measurements_quarantined') }}
    group by 1

),

partitions as (

    select partition_date from rows_read
    union
    select partition_date from accepted
    union
    select partition_date from quarantined

),

final as (

    select
        partitions.partition_date,
        coalesce(rows_read.rows_read, 0) as rows_read,
        coalesce(rows_read.rows_read, 0) * {{ var('metrics') | length }} as measurements_expected,
        coalesce(accepted.measurements_accepted, 0) as measurements_accepted,
        coalesce(quarantined.measurements_quarantined, 0) as measurements_quarantined,
        coalesce(accepted.measurements_capped, 0) as measurements_capped,
        coalesce(rows_read.rows_read, 0) * {{ var('metrics') | length }}
        = coalesce(accepted.measurements_accepted, 0)
        + coalesce(quarantined.measurements_quarantined, 0) as is_reconciled

    from partitions
    left join rows_read on partitions.partition_date = rows_read.partition_date
    left join accepted on partitions.partition_date = accepted.partition_date
    left join quarantined on partitions.partition_date = quarantined.partition_date

)

select * from final
