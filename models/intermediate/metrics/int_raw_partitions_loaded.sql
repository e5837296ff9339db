{{
    config(
        materialized = 'incremental',
        incremental_strategy = 'delete+insert',
        unique_key = 'partition_date',
        on_schema_change = 'fail'
    )
}}
-- The load log: one row per raw partition with the run that last (re)loaded it. New
-- partitions and the last late_data_lookback_days already loaded are (re)loaded each run;
-- the incremental models read exactly these partitions (macro partitions_of_this_run), so
-- they stay in step even when one of them has no rows to add (a clean day quarantines none).
with

partitions as (

    select cast("date" as date) as partition_date, count(*) as rows_read
    from {{ source('raw', 'metrics_hourly') }}
    {% if is_incremental() -%}
    where cast("date" as date) >= (
        select coalesce(max(partition_date), date '1900-01-01') from {{ this }}
    ) - interval {{ var('late_data_lookback_days') }} day
    {%- endif %}
    group by 1

)

select
    partition_date,
    rows_read,
    {{ run_started_at_timestamp() }} as loaded_at
from partitions
