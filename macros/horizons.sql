{#-
    Horizon buckets for accuracy and champions: 1..e1, e1+1..e2, ... up to
    forecast_horizon_days, from var horizon_bucket_ends (default [7, 30] -> '01-07',
    '08-30', '31-90'). Labels sort in horizon order.
-#}
{% macro horizon_bucket_bounds() -%}
    {%- set ends = var('horizon_bucket_ends') | list -%}
    {%- set ns = namespace(low=1, bounds=[]) -%}
    {%- for high in ends + [var('forecast_horizon_days')] if high >= ns.low -%}
        {%- do ns.bounds.append((ns.low, high)) -%}
        {%- set ns.low = high + 1 -%}
    {%- endfor -%}
    {{ return(ns.bounds) }}
{%- endmacro %}

{% macro horizon_bucket(horizon) -%}
    case
    {%- for low, high in horizon_bucket_bounds() %}
        when {{ horizon }} <= {{ high }} then '{{ "%02d-%02d" | format(low, high) }}'
    {%- endfor %}
    end
{%- endmacro %}

{#- The bucket labels as a SQL list literal, in horizon order. -#}
{% macro horizon_bucket_labels() -%}
    [{%- for low, high in horizon_bucket_bounds() -%}
        '{{ "%02d-%02d" | format(low, high) }}'{{ ", " if not loop.last }}
    {%- endfor -%}]
{%- endmacro %}
