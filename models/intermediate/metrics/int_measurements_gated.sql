{{
    config(
        materialized = 'incremental',
        incremental_strategy = 'delete+insert',
        unique_key = 'partition_date',
        on_schema_change = 'fail'
    )
}}
-- The quality gate. Every raw row is unpivoted into one measurement per metric and each
-- measurement gets a quarantine_reason (NULL = accepted). Nothing is dropped, so
-- rows read x metrics = accepted + quarantined, per partition (see fct_load_reconciliation).
--
-- Incremental by whole partitions: a run reprocesses new partitions plus the last
-- `late_data_lookback_days` already loaded, replacing them (delete+insert), so late files
-- and corrected files are picked up. Rows are checked against their own partition
-- (partition_mismatch), which makes duplicates always visible within one partition.
with

hourly as (

    select * from {{ ref('stg_raw__metrics_hourly') }}
    {% if is_incremental() %}
    where partition_date >= (
        select coalesce(max(partition_date), date '1900-01-01') from {{ this }}
    ) - interval {{ var('late_data_lookback_days') }} day
    {% endif %}

),

servers as (

    select server_id from {{ ref('stg_raw__servers') }}

),

checked as (

    select
        hourly.*,
        servers.server_id is not null as is_known_server,
        row_number() over (
            partition by hourly.server_id, hourly.measured_at
            order by hourly.source_file, hourly.file_row_number
        ) as occurrence

    from hourly
    left join servers on hourly.server_id = servers.server_id

),

measurements as (

    select * from checked
    unpivot include nulls (
        metric_value_pct for metric in (
            {%- for metric in var('metrics') %}
            {{ metric }}_p95_pct as '{{ metric }}'{{ "," if not loop.last }}
            {%- endfor %}
        )
    )

),

gated as (

    select
        source_file,
        file_row_number,
        server_id,
        metric,
        metric_value_pct,
        case
            when server_id is null then 'missing_server_id'
            when not is_known_server then 'unknown_server'
            when measured_at is null then 'invalid_timestamp'
            when cast(measured_at as date) <> partition_date then 'partition_mismatch'
            when measured_at > {{ as_of_timestamp() }}
                + interval {{ var('future_timestamp_tolerance_hours') }} hour then 'future_timestamp'
            when occurrence > 1 then 'duplicate'
            when metric_value_pct is null then 'missing_value'
            when isnan(metric_value_pct) or isinf(metric_value_pct) then 'non_finite'
            when metric_value_pct < 0 or metric_value_pct > 100 then 'out_of_range'
        end as quarantine_reason,
        partition_date,
        measured_at,
        -- When this partition was last (re)processed: proves incremental runs touch only
        -- new and look-back partitions.
        {{ run_started_at_timestamp() }} as gated_at

    from measurements

)

select * from gated
