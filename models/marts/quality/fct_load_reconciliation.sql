-- Row accounting per partition: what the raw files hold (counted straight from the source,
-- independently of the gate) against what the gate accepted and quarantined.
-- measurements_expected = rows_read x number of metrics.
with

rows_read as (

    select cast("date" as date) as partition_date, count(*) as rows_read
    from {{ source('raw', 'metrics_hourly') }}
    group by 1

),

gated as (

    select
        partition_date,
        count(*) filter (where quarantine_reason is null) as measurements_accepted,
        count(*) filter (where quarantine_reason is not null) as measurements_quarantined
    from {{ ref('int_measurements_gated') }}
    group by 1

),

final as (

    select
        coalesce(rows_read.partition_date, gated.partition_date) as partition_date,
        coalesce(rows_read.rows_read, 0) as rows_read,
        coalesce(rows_read.rows_read, 0) * {{ var('metrics') | length }} as measurements_expected,
        coalesce(gated.measurements_accepted, 0) as measurements_accepted,
        coalesce(gated.measurements_quarantined, 0) as measurements_quarantined,
        coalesce(rows_read.rows_read, 0) * {{ var('metrics') | length }}
            = coalesce(gated.measurements_accepted, 0) + coalesce(gated.measurements_quarantined, 0)
            as is_reconciled

    from rows_read
    full outer join gated on rows_read.partition_date = gated.partition_date

)

select * from final
