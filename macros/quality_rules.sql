{#-
    The quality gate's rules, shared by the models that accept and quarantine measurements.
    Row rules refuse all four metrics of a raw row; value rules refuse one measurement.
    First match wins. Duplicates (a second row for the same server and hour) are found per
    server-day in int_daily_metrics_aggregated and quarantined as 'duplicate'.
-#}

{% macro row_quarantine_reason() -%}
    case
        when server_id is null then 'missing_server_id'
        when not is_known_server then 'unknown_server'
        when measured_at is null then 'invalid_timestamp'
        when date_trunc('hour', measured_at) <> measured_at then 'misaligned_timestamp'
        when cast(measured_at as date) <> partition_date then 'partition_mismatch'
        when measured_at > {{ as_of_timestamp() }}
            + interval {{ var('future_timestamp_tolerance_hours') }} hour then 'future_timestamp'
    end
{%- endmacro %}

{% macro value_quarantine_reason(column) -%}
    case
        when {{ column }} is null then 'missing_value'
        when isnan({{ column }}) or isinf({{ column }}) then 'non_finite'
        when {{ column }} < 0 or {{ column }} > 100 then 'out_of_range'
    end
{%- endmacro %}

{% macro partitions_of_this_run() -%}
    {#- The partitions int_raw_partitions_loaded (re)loaded in this run: new ones plus the
        look-back. Models using it declare `-- depends_on: ref('int_raw_partitions_loaded')`. -#}
    {%- if is_incremental() %}
    where partition_date >= (
        select min(partition_date) from {{ ref('int_raw_partitions_loaded') }}
        where loaded_at = {{ run_started_at_timestamp() }}
    )
    {%- endif %}
{%- endmacro %}

{% macro metric_columns_unpivot(value_column) -%}
    {#- UNPIVOT body turning the wide <metric>_p95_pct columns into (metric, value_column). -#}
    {{ value_column }} for metric in (
        {%- for metric in var('metrics') %}
        {{ metric }}_p95_pct as '{{ metric }}'{{ "," if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}
