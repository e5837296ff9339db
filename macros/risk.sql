{#-
    P(daily P95 > threshold) from a forecast's quantiles, by linear interpolation of the CDF
    through (lower_95, 2.5 %), (lower_80, 10 %), (yhat, 50 %), (upper_80, 90 %),
    (upper_95, 97.5 %). Beyond the 95 % interval only a bound is known; the midpoint of the
    tail mass is reported (0.9875 / 0.0125).
-#}
{% macro exceedance_probability(threshold) -%}
    case
        when {{ threshold }} < yhat_lower_95_pct then 0.9875
        when {{ threshold }} > yhat_upper_95_pct then 0.0125
        else 1 - case
            when {{ threshold }} <= yhat_lower_80_pct then
                0.025 + 0.075 * {{ _position(threshold, 'yhat_lower_95_pct', 'yhat_lower_80_pct') }}
            when {{ threshold }} <= yhat_pct then
                0.10 + 0.40 * {{ _position(threshold, 'yhat_lower_80_pct', 'yhat_pct') }}
            when {{ threshold }} <= yhat_upper_80_pct then
                0.50 + 0.40 * {{ _position(threshold, 'yhat_pct', 'yhat_upper_80_pct') }}
            else
                0.90 + 0.075 * {{ _position(threshold, 'yhat_upper_80_pct', 'yhat_upper_95_pct') }}
        end
    end
{%- endmacro %}

{% macro _position(x, lo, hi) -%}
    coalesce(({{ x }} - {{ lo }}) / nullif({{ hi }} - {{ lo }}, 0), 1.0)
{%- endmacro %}

{#- Severity order used to take the worst class over metrics. -#}
{% macro risk_severity(risk_class) -%}
    case {{ risk_class }}
        when 'very_high_risk' then 4
        when 'high_risk' then 3
        when 'normal' then 2
        when 'underutilized' then 1
    end
{%- endmacro %}
