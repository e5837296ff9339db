{#-
    Vars are interpolated into SQL (paths, lists of window sizes), so every run starts by
    rejecting values that are not what they claim to be. The Python CLI applies the same
    rules (capacity_forecaster.config) before it ever calls dbt.
-#}
{% macro validate_project_vars() %}
    {%- set location_re = modules.re.compile('^[A-Za-z0-9_./:@=+-]+$') -%}
    {%- for name in ['raw_root', 'truth_root'] -%}
        {%- if not location_re.match(var(name) | string) -%}
            {{ exceptions.raise_compiler_error(
                "var " ~ name ~ "=" ~ (var(name) | tojson) ~
                " is not a safe path or s3:// URL (letters, digits and _ . / : @ = + - only)") }}
        {%- endif -%}
    {%- endfor -%}
    {%- do window_sizes('feature_lags') -%}
    {%- do window_sizes('rolling_windows') -%}
    {%- for metric in var('metrics') -%}
        {%- if not modules.re.match('^[a-z][a-z0-9_]*$', metric | string) -%}
            {{ exceptions.raise_compiler_error("metric name " ~ (metric | tojson) ~ " must be a lowercase identifier") }}
        {%- endif -%}
    {%- endfor -%}
    {%- for name in ['min_daily_coverage', 'quarter_end_window_days', 'late_data_lookback_days',
                     'future_timestamp_tolerance_hours', 'business_hours_start', 'business_hours_end',
                     'high_risk_threshold', 'very_high_risk_threshold', 'underutilized_threshold'] -%}
        {%- if var(name) is not number -%}
            {{ exceptions.raise_compiler_error("var " ~ name ~ " must be a number, got " ~ (var(name) | tojson)) }}
        {%- endif -%}
    {%- endfor -%}
    {%- for day in var('holidays') -%}
        {%- if not modules.re.match('^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$', day | string) -%}
            {{ exceptions.raise_compiler_error("holiday " ~ (day | tojson) ~ " must be MM-DD") }}
        {%- endif -%}
    {%- endfor -%}
    {%- if var('as_of_timestamp') is not none
          and not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}(:[0-9]{2})?)?$', var('as_of_timestamp') | string) -%}
        {{ exceptions.raise_compiler_error("var as_of_timestamp must be 'YYYY-MM-DD HH:MM:SS'") }}
    {%- endif -%}
    select 1
{% endmacro %}
