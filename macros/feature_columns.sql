{#- Feature columns generated from project vars, so the SQL never hard-codes a window. -#}

{% macro window_sizes(name) -%}
    {#- A lag/window list var. Its values are inlined into SQL, so the project's var rules
        (validate_project_vars) are applied here too, at parse time. -#}
    {%- do validate_project_vars() -%}
    {{ return(var(name)) }}
{%- endmacro %}

{% macro lag_features(value_column, partition_by, order_by, lags=window_sizes('feature_lags')) -%}
    {%- for k in lags %}
    lag({{ value_column }}, {{ k }}) over (partition by {{ partition_by }} order by {{ order_by }}) as p95_lag_{{ k }}_pct{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{% macro rolling_features(value_column, partition_by, order_by, windows=window_sizes('rolling_windows')) -%}
    {#- Windows end at the current day inclusive: a feature at origin t uses data up to t only. -#}
    {%- for w in windows %}
    avg({{ value_column }}) over (
        partition by {{ partition_by }} order by {{ order_by }}
        rows between {{ w - 1 }} preceding and current row
    ) as p95_rolling_mean_{{ w }}_pct,
    stddev_samp({{ value_column }}) over (
        partition by {{ partition_by }} order by {{ order_by }}
        rows between {{ w - 1 }} preceding and current row
    ) as p95_rolling_std_{{ w }}_pct{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{% macro as_of_timestamp() -%}
    {%- if var('as_of_timestamp') is not none -%}
        timestamp '{{ var("as_of_timestamp") }}'
    {%- else -%}
        {{ run_started_at_timestamp() }}
    {%- endif -%}
{%- endmacro %}

{% macro run_started_at_timestamp() -%}
    timestamp '{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}'
{%- endmacro %}
