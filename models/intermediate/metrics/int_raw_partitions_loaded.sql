{{ config(materialized = 'incremental') }}
-- depends_on: {{ ref('stg_raw__metrics_hourly') }}
-- The load log: one row per raw partition with the run that last (re)loaded it. A run loads
-- every partition it has not seen yet (new days, backfills) plus the last
-- late_data_lookback_days before the newest loaded partition that is not in the future (a
-- future-dated file must not move the watermark). The incremental models read exactly these
-- partitions (macro partitions_of_this_run), so they stay in step even when one of them has
-- no rows to add (a clean day quarantines none). It waits for stg_raw__metrics_hourly, whose
-- raw-file checks name a misplaced or clashing file before anything reads the files.
with

source_partitions as (

    select cast("date" as date) as partition_date, count(*) as rows_read
    from {{ source('raw', 'metrics_hourly') }}
    group by 1

),

{% if is_incremental() -%}
watermark as (

    select coalesce(max(partition_date), date '1900-01-01') as last_date
    from {{ this }}
    where partition_date <= cast({{ as_of_timestamp() }} as date)

),

to_load as (

    select *
    from source_partitions
    where partition_date not in (select partition_date from {{ this }})
       or partition_date >= (select last_date from watermark)
           - interval {{ var('late_data_lookback_days') }} day

)
{%- else -%}
to_load as (

    select * from source_partitions

)
{%- endif %}

select
    partition_date,
    rows_read,
    {{ run_started_at_timestamp() }} as loaded_at
from to_load
