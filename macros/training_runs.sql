{#-
    The training run this build uses for a component ('forecast' or 'risk'): the newest row of
    its decision log (int_<component>_runs_decided). A scalar subquery, for hooks and filters
    that keep exactly one run's rows.
-#}
{% macro current_training_run(component) -%}
    {%- if component == 'forecast' -%}
        (select run_id from {{ ref('int_forecast_runs_decided') }} order by build_id desc limit 1)
    {%- elif component == 'risk' -%}
        (select run_id from {{ ref('int_risk_runs_decided') }} order by build_id desc limit 1)
    {%- else -%}
        {{ exceptions.raise_compiler_error("current_training_run: unknown component " ~ component) }}
    {%- endif -%}
{%- endmacro %}

{#- The reference every champion must beat, named as users read it: "the 28-day mean" with the
    default var forecast_models.moving_average.window_days. -#}
{% macro reference_model_label() -%}
    the {{ var('forecast_models')['moving_average']['window_days'] }}-day mean
{%- endmacro %}
