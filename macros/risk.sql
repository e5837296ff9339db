{#-
    risk_state of a server x metric x window, first match wins (see fct_capacity_risk):
    breaching_now, forecast_breach, underutilized, normal. Underutilized needs a low 30-day
    level, no recent day at the consolidation ceiling, and a low chance of reaching it in the
    window: a server that saturated recently is never a consolidation candidate.
-#}
{% macro risk_state(current_p95, high_threshold, is_flagged_high, avg_30d, max_90d,
                    p_exceed_ceiling, underutilized_threshold, ceiling) -%}
    case
        when {{ current_p95 }} > {{ high_threshold }} then 'breaching_now'
        when {{ is_flagged_high }} then 'forecast_breach'
        when {{ avg_30d }} < {{ underutilized_threshold }}
            and {{ max_90d }} < {{ ceiling }}
            and {{ p_exceed_ceiling }} < {{ var('underutilized_max_probability') }}
            then 'underutilized'
        else 'normal'
    end
{%- endmacro %}

{#- Severity order used to take the worst class or state over metrics. -#}
{% macro risk_severity(risk_class) -%}
    case {{ risk_class }}
        when 'very_high_risk' then 4
        when 'high_risk' then 3
        when 'normal' then 2
        when 'underutilized' then 1
    end
{%- endmacro %}

{% macro risk_state_severity(risk_state) -%}
    case {{ risk_state }}
        when 'breaching_now' then 4
        when 'forecast_breach' then 3
        when 'normal' then 2
        when 'underutilized' then 1
    end
{%- endmacro %}
