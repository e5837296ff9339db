{#-
    The quality gate's rules, shared by the models that accept and quarantine measurements.
    Row rules refuse all four metrics of a raw row; value rules refuse one measurement.
    First match wins. Duplicates (a second row for the same server and hour) are found per
    server-day in int_daily_metrics_aggregated and quarantined as 'duplicate'.
-#}

{% macro row_quarantine_reason() -%}
    {#- Needs server_id, is_known_server, measured_at, partition_date and the server's
        commissioned_date / decommissioned_date (stg_raw__servers; NULL when unknown). -#}
    case
        when server_id is null then 'missing_server_id'
        when not is_known_server then 'unknown_server'
        when measured_at is null then 'invalid_timestamp'
        when date_trunc('hour', measured_at) <> measured_at then 'misaligned_timestamp'
        when cast(measured_at as date) <> partition_date then 'partition_mismatch'
        when measured_at > {{ as_of_timestamp() }}
            + interval {{ var('future_timestamp_tolerance_hours') }} hour then 'future_timestamp'
        when cast(measured_at as date)
            < commissioned_date - interval {{ var('lifecycle_tolerance_days') }} day
            then 'before_commissioning'
        when commissioned_date is null and measured_at
            < {{ as_of_timestamp() }} - interval {{ var('max_history_days') }} day
            then 'older_than_max_history'
        {#- decommissioned_date is the first day out of service. #}
        when cast(measured_at as date)
            >= decommissioned_date + interval {{ var('lifecycle_tolerance_days') }} day
            then 'after_decommissioning'
    end
{%- endmacro %}

{% macro value_quarantine_reason(column) -%}
    {#- Over 100 % is real on VMs (usage above what was provisioned): with var
        over_capacity_policy 'cap' it is accepted as 100 (accepted_value_pct) and counted as
        saturation; 'quarantine' refuses it as out_of_range. Below 0 is always refused. -#}
    case
        when {{ column }} is null then 'missing_value'
        when isnan({{ column }}) or isinf({{ column }}) then 'non_finite'
        when {{ column }} < 0 then 'out_of_range'
        {%- if var('over_capacity_policy') == 'quarantine' %}
        when {{ is_over_capacity(column) }} then 'out_of_range'
        {%- endif %}
    end
{%- endmacro %}

{% macro accepted_value_pct(column) -%}
    {#- The value used for an accepted measurement (value_quarantine_reason is NULL). -#}
    {%- if var('over_capacity_policy') == 'cap' -%}
        least({{ column }}, 100.0)
    {%- else -%}
        {{ column }}
    {%- endif -%}
{%- endmacro %}

{% macro is_over_capacity(column) -%}
    {{ column }} > 100
{%- endmacro %}


{% macro occurrence_number(relation=none) -%}
    {#- The keep-first rule for duplicates: 1 for the first row of a server and hour (by
        file, then row in the file), 2 for the next one, ... -#}
    {%- set p = relation ~ '.' if relation else '' -%}
    row_number() over (
        partition by {{ p }}server_id, {{ p }}measured_at
        order by {{ p }}source_file, {{ p }}file_row_number
    )
{%- endmacro %}

{% macro partitions_of_this_run(column='partition_date', lookback_days=0) -%}
    {#- In an incremental run: `where <column> >= ` the first partition int_raw_partitions_loaded
        (re)loaded in this run (new ones plus the look-back), minus lookback_days of history;
        nothing on a full refresh. Models using it declare
        `-- depends_on: ref('int_raw_partitions_loaded')`. -#}
    {%- if is_incremental() %}
    where {{ column }} >= (
        select min(partition_date) from {{ ref('int_raw_partitions_loaded') }}
        where loaded_at = {{ run_started_at_timestamp() }}
    ){% if lookback_days %} - interval {{ lookback_days }} day{% endif %}
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
