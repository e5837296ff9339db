{{ config(materialized = 'view') }}
-- Raw hourly rows with the row-level quality rules applied. A view on purpose: consumers
-- filter by partition, so an incremental run reads only the partitions it processes, and
-- the 30 M+ hourly rows of a large fleet are never written to the warehouse.
with

hourly as (

    select * from {{ ref('stg_raw__metrics_hourly') }}

),

servers as (

    select server_id, commissioned_date, decommissioned_date from {{ ref('stg_raw__servers') }}

),

known as (

    select
        hourly.*,
        servers.server_id is not null as is_known_server,
        servers.commissioned_date,
        servers.decommissioned_date
    from hourly
    left join servers on hourly.server_id = servers.server_id

),

checked as (

    select
        *,
        {{ row_quarantine_reason() }} as row_quarantine_reason
    from known

)

select * from checked
