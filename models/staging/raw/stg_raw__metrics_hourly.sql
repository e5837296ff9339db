-- Typed, renamed hourly metrics, one row per raw row. No filtering here: the quality gate
-- downstream decides what is accepted and quarantines the rest with a reason.
with

source as (

    select * from {{ source('raw', 'metrics_hourly') }}

),

renamed as (

    select
        filename as source_file,
        file_row_number,
        cast(server_id as varchar) as server_id,
        {%- for metric in var('metrics') %}
        try_cast({{ metric }}_p95 as double) as {{ metric }}_p95_pct,
        {%- endfor %}
        cast("date" as date) as partition_date,
        -- TIMESTAMPTZ is normalised to UTC; a naive timestamp is taken as UTC (TimeZone=UTC).
        timezone('UTC', try_cast("timestamp" as timestamptz)) as measured_at

    from source

)

select * from renamed
