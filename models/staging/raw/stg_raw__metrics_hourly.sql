-- Typed, renamed hourly metrics, one row per raw row. No filtering here: the quality gate
-- downstream decides what is accepted and quarantines the rest with a reason. Every file is
-- cast from its own column types (macro raw_metrics_typed), so no file's types can change
-- another file's values; a metric that does not read as a number is NULL here.
with

source as (

    {{ raw_metrics_typed() }}

),

renamed as (

    select
        filename as source_file,
        file_row_number,
        server_id,
        {%- for metric in var('metrics') %}
        {{ metric }}_p95 as {{ metric }}_p95_pct,
        {%- endfor %}
        "date" as partition_date,
        -- TIMESTAMPTZ is normalised to UTC; a naive timestamp is taken as UTC (TimeZone=UTC).
        timezone('UTC', "timestamp") as measured_at

    from source

)

select * from renamed
