{#- Pinball (quantile) loss of a quantile forecast `q` for level `tau`. -#}
{% macro pinball(actual, q, tau) -%}
    greatest({{ tau }} * ({{ actual }} - {{ q }}), ({{ tau }} - 1) * ({{ actual }} - {{ q }}))
{%- endmacro %}
