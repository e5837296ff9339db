{{ config(materialized = 'incremental') }}
-- depends_on: {{ ref('int_raw_partitions_loaded') }}
-- Accepted measurements rolled up to server x metric x UTC day, straight from the raw rows in
-- wide form (one pass, four quantiles), never materialising the hourly table.
--
-- Duplicates: after the row rules every accepted timestamp is on the hour and inside its
-- partition's day, so a server-day holds duplicates exactly when it has more rows than
-- distinct hours (a bitmask of hours, much cheaper than count(distinct)). Only those rare
-- server-days are re-aggregated from their first occurrences (macro occurrence_number).
-- Values over 100 % count as 100 with over_capacity_policy 'cap' (hours_over_capacity).
-- Incremental by partition (folder config in dbt_project.yml), with the
-- late_data_lookback_days look-back.
with

rows_in_scope as (

    select * from {{ ref('int_metrics_hourly_checked') }}
    {{ partitions_of_this_run() }}

),

accepted_rows as (

    select * from rows_in_scope
    where row_quarantine_reason is null

),

{% set aggregates -%}
    server_id,
    partition_date,
{%- for metric in var('metrics') %}
{%- set column = metric ~ '_p95_pct' %}
{%- set valid = value_quarantine_reason(column) ~ ' is null' %}
{%- set value = accepted_value_pct(column) %}
    quantile_cont({{ value }}, 0.95) filter (where {{ valid }}) as {{ metric }}__p95,
    avg({{ value }}) filter (where {{ valid }}) as {{ metric }}__mean,
    max({{ value }}) filter (where {{ valid }}) as {{ metric }}__max,
    count(*) filter (where {{ valid }}) as {{ metric }}__hours,
    count(*) filter (where {{ valid }} and {{ is_over_capacity(column) }}) as {{ metric }}__over,
{%- endfor %}
{%- endset %}

first_pass as (

    select
        {{ aggregates }}
        count(*) - bit_count(bit_or(cast(1 as bigint) << hour(measured_at))) as duplicate_rows
    from accepted_rows
    group by server_id, partition_date

),

groups_with_duplicates as (

    select server_id, partition_date, duplicate_rows from first_pass
    where duplicate_rows > 0

),

first_occurrences as (

    select accepted_rows.*
    from accepted_rows
    semi join groups_with_duplicates
        on accepted_rows.server_id = groups_with_duplicates.server_id
        and accepted_rows.partition_date = groups_with_duplicates.partition_date
    qualify {{ occurrence_number('accepted_rows') }} = 1

),

second_pass as (

    select
        {{ aggregates }}
        any_value(groups_with_duplicates.duplicate_rows) as duplicate_rows
    from first_occurrences
    inner join groups_with_duplicates using (server_id, partition_date)
    group by server_id, partition_date

),

combined as (

    select * from first_pass
    where duplicate_rows = 0
    union all by name
    select * from second_pass

),

long as (

    select * from combined
    unpivot (
        (p95_pct, mean_pct, max_pct, hours_present, hours_over_capacity) for metric in (
            {%- for metric in var('metrics') %}
            ({{ metric }}__p95, {{ metric }}__mean, {{ metric }}__max, {{ metric }}__hours, {{ metric }}__over)
                as '{{ metric }}'
            {{ "," if not loop.last }}
            {%- endfor %}
        )
    )

),

final as (

    select
        server_id,
        metric,
        p95_pct,
        mean_pct,
        max_pct,
        hours_present,
        hours_over_capacity,
        hours_present / 24.0 as coverage_ratio,
        duplicate_rows,
        hours_present / 24.0 < {{ var('min_daily_coverage') }} as is_low_coverage,
        partition_date as metric_date,
        partition_date,
        -- When this partition was last (re)aggregated: proves incremental runs touch only
        -- new and look-back partitions.
        {{ run_started_at_timestamp() }} as aggregated_at

    from long
    where hours_present > 0

)

select * from final
