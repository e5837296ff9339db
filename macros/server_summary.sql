{#-
    fct_server_summary: one row per live server with wide per-metric columns, generated from
    var metrics by server_summary_metric_columns().

    Capacity is added in the unit a planner orders it in, from the inventory size column of
    the metric; a metric without one (any other var metrics entry) gets only <metric>_add_pct.
-#}
{% macro capacity_units() -%}
    {{ return({
        'cpu': {'size': 'vcpus', 'unit': 'vcpus'},
        'memory': {'size': 'memory_gb', 'unit': 'gb'},
        'disk_io': {'size': 'disk_mbps', 'unit': 'mb_per_s'},
        'network': {'size': 'network_mbps', 'unit': 'mbit_per_s'},
    }) }}
{%- endmacro %}

{#-
    The metrics whose columns the YAML contract of fct_server_summary declares (the default
    var metrics). The contract is enforced when var metrics is exactly this list; with any
    other list the mart is built without it (its columns follow the var) and says so in the
    log. tests/python/test_report.py checks that the YAML matches this list.
-#}
{% macro server_summary_contract_metrics() -%}
    {{ return(['cpu', 'memory', 'disk_io', 'network']) }}
{%- endmacro %}

{% macro server_summary_contract_enforced() -%}
    {%- set enforced = (var('metrics') | list) == server_summary_contract_metrics() -%}
    {%- if execute and not enforced -%}
        {{ log("fct_server_summary: var metrics " ~ var('metrics') ~ " differs from the contract's "
               ~ server_summary_contract_metrics() ~ "; built without the enforced contract", info=true) }}
    {%- endif -%}
    {{ return(enforced) }}
{%- endmacro %}

{#- The wide columns of one metric, aggregated from the long `per_metric` rows of a server. -#}
{% macro server_summary_metric_columns(metric) -%}
    {%- set units = capacity_units() -%}
    {%- set m = "metric = '" ~ metric ~ "'" -%}
    max(current_p95_pct) filter (where {{ m }}) as {{ metric }}_current_p95_pct,
    max(risk_state) filter (where {{ m }}) as {{ metric }}_risk_state,
    max(risk_class) filter (where {{ m }}) as {{ metric }}_risk_class,
    max(p_breach_high) filter (where {{ m }}) as {{ metric }}_p_breach_high,
    max(sizing_peak_pct) filter (where {{ m }}) as {{ metric }}_sizing_peak_pct,
    max(add_pct) filter (where {{ m }}) as {{ metric }}_add_pct,
    {%- if metric in units %}
    max(add_{{ units[metric]['unit'] }}) filter (where {{ m }}) as {{ metric }}_add_{{ units[metric]['unit'] }},
    {%- endif %}
    bool_or(is_add_lower_bound) filter (where {{ m }}) as {{ metric }}_is_add_lower_bound,
    max(breaching_since_date) filter (where {{ m }}) as {{ metric }}_breaching_since_date,
    max(first_likely_breach_date) filter (where {{ m }}) as {{ metric }}_first_likely_breach_date
{%- endmacro %}

{#-
    Capacity to add in the metric's unit: size x add_pct / 100, rounded up to a whole unit
    (rounded to 6 decimals first so 2.0000000001 does not become 3). NULL when the size is
    unknown.
-#}
{% macro capacity_add_in_units() -%}
    {%- set units = capacity_units() -%}
    {%- for metric, unit in units.items() %}
    cast(ceil(round(
        case when per_metric.metric = '{{ metric }}' then servers.{{ unit['size'] }} * per_metric.add_pct / 100 end,
        6
    )) as integer) as add_{{ unit['unit'] }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}
