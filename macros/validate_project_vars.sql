{#-
    The one set of rules for project vars. Vars are pasted into SQL (paths, window sizes,
    thresholds), into dbt configs and into S3 requests, so each one is checked against the
    table below before anything uses it.

    One implementation, three callers:
      * dbt's on-run-start hook (dbt_project.yml) for every `dbt build/run/test/seed`;
      * window_sizes() at parse time, so `dbt compile/show` refuse bad vars too;
      * capfc: capacity_forecaster.config renders THIS file with jinja2 (shims for var(),
        modules.re, exceptions.raise_compiler_error and tojson), so the CLI cannot drift.
    Therefore: plain Jinja only here (no return(), no adapter or run_query calls).

    A var not listed is not checked here: add every new var that reaches SQL, a path or a
    bucket name to `rules` (and a cross-check to `checks` when two vars must agree).

    names: check only these vars (and skip cross-checks); default: all rules.
-#}
{% macro validate_project_vars(names=none) -%}
    {%- set ident = '^[a-z][a-z0-9_]*$' -%}
    {%- set rules = {
        'raw_root': {'kind': 'location'},
        'truth_root': {'kind': 'location'},
        's3_bucket': {'kind': 'bucket'},
        's3_prefix': {'kind': 'prefix'},

        'fleet_servers': {'kind': 'int', 'min': 1, 'max': 1000000},
        'fleet_days': {'kind': 'int', 'min': 1, 'max': 36600},
        'fleet_start': {'kind': 'date', 'nullable': true},
        'fleet_seed': {'kind': 'int', 'min': 0, 'max': 4294967295},
        'fleet_future_days': {'kind': 'int', 'min': 0, 'max': 3660},

        'metrics': {'kind': 'list', 'item': 'pattern', 'pattern': ident, 'min_items': 1,
                    'what': 'lowercase identifiers'},
        'min_daily_coverage': {'kind': 'number', 'min': 0, 'max': 1},
        'future_timestamp_tolerance_hours': {'kind': 'int', 'min': 0, 'max': 168},
        'eda_pattern_severity': {'kind': 'choice', 'choices': ['error', 'warn']},
        'late_data_lookback_days': {'kind': 'int', 'min': 0, 'max': 365},
        'as_of_timestamp': {'kind': 'timestamp', 'nullable': true},
        'over_capacity_policy': {'kind': 'choice', 'choices': ['cap', 'quarantine']},
        'lifecycle_tolerance_days': {'kind': 'int', 'min': 0, 'max': 3660},
        'max_history_days': {'kind': 'int', 'min': 1, 'max': 36600},

        'feature_lags': {'kind': 'list', 'item': 'int', 'min': 1, 'max': 366, 'min_items': 1},
        'rolling_windows': {'kind': 'list', 'item': 'int', 'min': 1, 'max': 366, 'min_items': 1},
        'quarter_end_window_days': {'kind': 'int', 'min': 0, 'max': 31},
        'hourly_profile_days': {'kind': 'int', 'min': 1, 'max': 366},
        'business_hours_start': {'kind': 'int', 'min': 0, 'max': 23},
        'business_hours_end': {'kind': 'int', 'min': 1, 'max': 24},
        'holidays': {'kind': 'list', 'item': 'pattern', 'min_items': 0, 'what': 'MM-DD days',
                     'pattern': '^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$'},

        'forecast_horizon_days': {'kind': 'int', 'min': 1, 'max': 366},
        'holdout_fraction': {'kind': 'number', 'min': 0.05, 'max': 0.5},
        'cv_folds': {'kind': 'int', 'min': 0, 'max': 100},
        'min_history_days': {'kind': 'int', 'min': 1, 'max': 3660},
        'backtest_origins': {'kind': 'int', 'min': 1, 'max': 100},
        'train_origin_stride_days': {'kind': 'int', 'min': 1, 'max': 366},
        'horizons_per_origin': {'kind': 'int', 'min': 1, 'max': 366},
        'max_train_rows_per_archetype': {'kind': 'int', 'min': 1, 'max': 1000000000},
        'max_train_rows_global': {'kind': 'int', 'min': 1, 'max': 1000000000},
        'prophet_backtest_servers_per_archetype': {'kind': 'int', 'min': 0, 'max': 1000000},
        'cv_models': {'kind': 'list', 'item': 'pattern', 'pattern': ident, 'min_items': 0,
                      'what': 'model names'},
        'forecast_n_jobs': {'kind': 'int', 'min': -1, 'max': 1024},
        'forecast_seed': {'kind': 'int', 'min': 0, 'max': 4294967295},
        'forecast_engine': {'kind': 'choice', 'choices': ['local', 'spark']},
        'spark_remote': {'kind': 'pattern', 'nullable': true, 'what': 'a Spark Connect URL (sc://host[:port][/;key=value...])',
                         'pattern': '^sc://[A-Za-z0-9._-]+(:[0-9]{1,5})?(/(;[A-Za-z_]+=[A-Za-z0-9._~%-]*)*)?$'},
        'spark_master': {'kind': 'pattern', 'nullable': true, 'what': 'a Spark master (local[N], spark://host:port, yarn, k8s://https://host:port)',
                         'pattern': '^(local(\\[([1-9][0-9]*|\\*)(,[0-9]+)?\\])?|spark://[A-Za-z0-9._-]+(:[0-9]{1,5})?(,[A-Za-z0-9._-]+(:[0-9]{1,5})?)*|yarn|k8s://https?://[A-Za-z0-9._-]+(:[0-9]{1,5})?)$'},

        'high_risk_threshold': {'kind': 'number', 'min': 0, 'max': 100},
        'very_high_risk_threshold': {'kind': 'number', 'min': 0, 'max': 100},
        'underutilized_threshold': {'kind': 'number', 'min': 0, 'max': 100},
        'consolidation_peak_ceiling': {'kind': 'number', 'min': 0, 'max': 100},
        'risk_windows': {'kind': 'list', 'item': 'int', 'min': 1, 'max': 366, 'min_items': 1},
        'breach_probability_cutoff': {'kind': 'number', 'min': 0.01, 'max': 0.99},
        'underutilized_max_probability': {'kind': 'number', 'min': 0, 'max': 1},
        'capacity_sizing_percentile': {'kind': 'int', 'min': 50, 'max': 99},
        'max_train_rows_risk': {'kind': 'int', 'min': 1000, 'max': 1000000000},
        'horizon_bucket_ends': {'kind': 'list', 'item': 'int', 'min': 1, 'max': 366, 'min_items': 1},
        'champion_min_gain': {'kind': 'number', 'min': 0, 'max': 0.9},
        'champion_min_servers': {'kind': 'int', 'min': 1, 'max': 1000000},
        'archive_daily_horizon_days': {'kind': 'int', 'min': 1, 'max': 366},

        'retrain_every_days': {'kind': 'int', 'min': 1, 'max': 366},
        'force_retrain': {'kind': 'bool'},
        'artifact_retention_days': {'kind': 'int', 'min': 1, 'max': 3660},
    } -%}
    {#- left op right; a list var is compared by its largest item. -#}
    {%- set checks = [
        ['very_high_risk_threshold', '>=', 'high_risk_threshold'],
        ['underutilized_threshold', '<=', 'high_risk_threshold'],
        ['business_hours_start', '<', 'business_hours_end'],
        ['risk_windows', '<=', 'forecast_horizon_days'],
        ['horizon_bucket_ends', '<', 'forecast_horizon_days'],
        ['archive_daily_horizon_days', '<=', 'forecast_horizon_days'],
    ] -%}
    {%- set location_re = '^[A-Za-z0-9_./:@=+-]+$' -%}
    {%- set bucket_re = '^(?!xn--)(?!.*[.][.])[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$' -%}
    {%- set prefix_re = "^[A-Za-z0-9!_.*'()/-]*$" -%}
    {%- set timestamp_re = '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])( ([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?)?$' -%}
    {%- set date_re = '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$' -%}

    {%- for name, rule in rules.items() if names is none or name in names -%}
        {%- set value = var(name, none) -%}
        {%- set shown = "var " ~ name ~ "=" ~ (tojson(value) if value is string else value | string) -%}
        {%- set kind = rule['kind'] -%}
        {%- set is_num = (value is integer or value is float) and value is not boolean and value == value -%}
        {%- if value is none -%}
            {%- if not rule.get('nullable', false) -%}
                {{ exceptions.raise_compiler_error(shown ~ " is required (set it in dbt_project.yml vars)") }}
            {%- endif -%}
        {%- elif kind in ['location', 'bucket', 'prefix'] -%}
            {%- if value is not string -%}
                {{ exceptions.raise_compiler_error(shown ~ " must be a string") }}
            {%- elif kind == 'location' -%}
                {%- if not modules.re.match(location_re, value) -%}
                    {{ exceptions.raise_compiler_error(shown ~ " is not a safe path or s3:// URL (letters, digits and _ . / : @ = + - only)") }}
                {%- endif -%}
                {%- if value.startswith('s3://') -%}
                    {%- set bucket = value[5:].split('/')[0] -%}
                    {%- set prefix = value[5 + bucket | length:] -%}
                    {%- if not modules.re.match(bucket_re, bucket) -%}
                        {{ exceptions.raise_compiler_error(shown ~ " has an invalid S3 bucket name " ~ tojson(bucket) ~ ": 3-63 chars of lowercase letters, digits, '.', '-'") }}
                    {%- endif -%}
                    {%- if '..' in prefix -%}
                        {{ exceptions.raise_compiler_error(shown ~ " has an invalid S3 prefix: '..' is not allowed") }}
                    {%- endif -%}
                {%- endif -%}
            {%- elif kind == 'bucket' and not modules.re.match(bucket_re, value) -%}
                {{ exceptions.raise_compiler_error(shown ~ " is not a valid S3 bucket name: 3-63 chars of lowercase letters, digits, '.', '-'") }}
            {%- elif kind == 'prefix' and (not modules.re.match(prefix_re, value) or '..' in value) -%}
                {{ exceptions.raise_compiler_error(shown ~ " is not a valid S3 prefix: use letters, digits and / _ . - only") }}
            {%- endif -%}
        {%- elif kind == 'int' -%}
            {%- if value is not integer or value is boolean or value < rule['min'] or value > rule['max'] -%}
                {{ exceptions.raise_compiler_error(shown ~ " must be a whole number in " ~ rule['min'] ~ ".." ~ rule['max']) }}
            {%- endif -%}
        {%- elif kind == 'number' -%}
            {%- if not is_num or value < rule['min'] or value > rule['max'] -%}
                {{ exceptions.raise_compiler_error(shown ~ " must be a number in [" ~ rule['min'] ~ ", " ~ rule['max'] ~ "]") }}
            {%- endif -%}
        {%- elif kind == 'bool' -%}
            {%- if value is not boolean -%}
                {{ exceptions.raise_compiler_error(shown ~ " must be true or false") }}
            {%- endif -%}
        {%- elif kind == 'pattern' -%}
            {%- if value is not string or not modules.re.match(rule['pattern'], value) -%}
                {{ exceptions.raise_compiler_error(shown ~ " must be " ~ rule['what']) }}
            {%- endif -%}
        {%- elif kind == 'choice' -%}
            {%- if value is not string or value not in rule['choices'] -%}
                {{ exceptions.raise_compiler_error(shown ~ " must be one of " ~ rule['choices'] | join(', ')) }}
            {%- endif -%}
        {%- elif kind in ['timestamp', 'date'] -%}
            {%- if value is boolean or value is number or value is sequence and value is not string
                  or not modules.re.match(timestamp_re if kind == 'timestamp' else date_re, value | string) -%}
                {{ exceptions.raise_compiler_error(shown ~ " must be " ~ ("'YYYY-MM-DD[ HH:MM[:SS]]' (UTC)" if kind == 'timestamp' else "'YYYY-MM-DD'") ~ " or null") }}
            {%- endif -%}
        {%- elif kind == 'list' -%}
            {%- if rule['item'] == 'int' -%}
                {%- set what = "a list of whole numbers in " ~ rule['min'] ~ ".." ~ rule['max'] -%}
            {%- else -%}
                {%- set what = "a list of " ~ rule['what'] -%}
            {%- endif -%}
            {%- if rule['min_items'] > 0 -%}
                {%- set what = "a non-empty " ~ what[2:] -%}
            {%- endif -%}
            {%- if value is string or value is mapping or value is not sequence or value | length < rule['min_items'] -%}
                {{ exceptions.raise_compiler_error(shown ~ " must be " ~ what) }}
            {%- endif -%}
            {%- for item in value -%}
                {%- if rule['item'] == 'int' -%}
                    {%- if item is not integer or item is boolean or item < rule['min'] or item > rule['max'] -%}
                        {{ exceptions.raise_compiler_error(shown ~ " must be " ~ what ~ " (bad item " ~ (tojson(item) if item is string else item) ~ ")") }}
                    {%- endif -%}
                {%- elif item is not string or not modules.re.match(rule['pattern'], item) -%}
                    {{ exceptions.raise_compiler_error(shown ~ " must be " ~ what ~ " (bad item " ~ (tojson(item) if item is string else item) ~ ")") }}
                {%- endif -%}
            {%- endfor -%}
            {%- if value | unique | list | length != value | length -%}
                {{ exceptions.raise_compiler_error(shown ~ " must not repeat an item") }}
            {%- endif -%}
        {%- else -%}
            {{ exceptions.raise_compiler_error("validate_project_vars: unknown rule kind " ~ kind) }}
        {%- endif -%}
    {%- endfor -%}

    {%- if names is none -%}
        {%- for left, op, right in checks -%}
            {%- set a = var(left) | max if var(left) is sequence else var(left) -%}
            {%- set b = var(right) | max if var(right) is sequence else var(right) -%}
            {%- if op == '>=' and not a >= b or op == '<=' and not a <= b or op == '<' and not a < b -%}
                {{ exceptions.raise_compiler_error(
                    "vars disagree: " ~ left ~ " (" ~ a ~ ") must be " ~ op ~ " " ~ right ~ " (" ~ b ~ ")") }}
            {%- endif -%}
        {%- endfor -%}
        {%- if var('forecast_engine') == 'spark' and (var('spark_remote', none) is none) == (var('spark_master', none) is none) -%}
            {{ exceptions.raise_compiler_error(
                "var forecast_engine=spark needs exactly one of spark_remote (a Spark Connect URL) "
                ~ "or spark_master (local[N], spark://host:port, yarn)") }}
        {%- endif -%}
        {#- The 28-day mean is the reference every champion must beat (fct_forecast_champions). -#}
        {%- set reference = (var('forecast_models') or {}).get('moving_average') -%}
        {%- if reference is not mapping or not reference.get('enabled', false) -%}
            {{ exceptions.raise_compiler_error(
                "var forecast_models.moving_average must stay enabled: the 28-day mean is the reference "
                ~ "every champion must beat (disable other models instead)") }}
        {%- endif -%}
    {%- endif -%}
    select 1
{%- endmacro %}
