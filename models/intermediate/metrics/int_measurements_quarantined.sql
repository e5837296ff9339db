{{ config(materialized = 'incremental') }}
-- depends_on: {{ ref('int_raw_partitions_loaded') }}
-- Every refused measurement with its reason, file and row. A row refused by a row rule (or
-- as a duplicate) refuses all its metrics; otherwise each invalid value is refused alone.
-- An over-capacity value accepted as 100 (over_capacity_policy 'cap') is not here.
with

rows_in_scope as (

    select * from {{ ref('int_metrics_hourly_checked') }}
    {{ partitions_of_this_run() }}

),

groups_with_duplicates as (

    select distinct server_id, partition_date
    from {{ ref('int_daily_metrics_aggregated') }}
    where duplicate_rows > 0

),

duplicates as (

    select rows_in_scope.source_file, rows_in_scope.file_row_number
    from rows_in_scope
    semi join groups_with_duplicates
        on rows_in_scope.server_id = groups_with_duplicates.server_id
        and rows_in_scope.partition_date = groups_with_duplicates.partition_date
    where rows_in_scope.row_quarantine_reason is null
    qualify {{ occurrence_number('rows_in_scope') }} > 1

),

flagged as (

    select
        rows_in_scope.*,
        coalesce(
            rows_in_scope.row_quarantine_reason,
            case when duplicates.source_file is not null then 'duplicate' end
        ) as row_reason
    from rows_in_scope
    left join duplicates
        on rows_in_scope.source_file = duplicates.source_file
        and rows_in_scope.file_row_number = duplicates.file_row_number

),

candidates as (

    -- Only rows with something wrong are unpivoted.
    select * from flagged
    where
        row_reason is not null
        {%- for metric in var('metrics') %}
        or {{ value_quarantine_reason(metric ~ '_p95_pct') }} is not null
        {%- endfor %}

),

measurements as (

    select * from candidates
    unpivot include nulls (
        {{ metric_columns_unpivot('metric_value_pct') }}
    )

),

final as (

    select
        source_file,
        file_row_number,
        server_id,
        metric,
        coalesce(row_reason, {{ value_quarantine_reason('metric_value_pct') }}) as quarantine_reason,
        metric_value_pct,
        partition_date,
        measured_at
    from measurements
    where coalesce(row_reason, {{ value_quarantine_reason('metric_value_pct') }}) is not null

)

select * from final
