{#-
    Reading the raw metrics so that one file can never change another file's values.

    DuckDB's union_by_name gives a column one type for all files: one file with string
    metrics turned every file's float32 values into text (47.3 read back as 47.3 instead of
    47.29999923706055, so incremental and full refresh differed), a DECIMAL file was rounded
    through FLOAT, and a LIST or TIMESTAMP metric in one file failed the read naming an
    innocent file. So, at run time:

      1. every *.parquet under metrics/ must sit in metrics/date=YYYY-MM-DD/ (the glob would
         skip a file nested deeper or outside a partition without a word);
      2. no file may hold a column the reader adds itself (filename, file_row_number, date);
      3. files are grouped by the types of their contract columns (read from the footers with
         parquet_schema); each group is read on its own and cast from its own types to the
         contract types, and the groups are stacked. One group (the normal case) reads the
         source glob as before; a file with a nested contract column is a group of its own.

    A metric that does not read as a number (text, boolean, list...) becomes NULL and is
    quarantined downstream as missing_value with its file, row and metric. Problems of kinds
    1-2 stop the build listing every offending file. capfc checks the same layout before dbt
    starts (capacity_forecaster.preflight), plus what SQL cannot: unreadable pages, and
    FIFOs or devices that would block any reader.
-#}

{% macro raw_metrics_typed() -%}
    {%- set targets = {'timestamp': 'timestamptz', 'server_id': 'varchar'} -%}
    {%- for metric in var('metrics') -%}
        {%- do targets.update({metric ~ '_p95': 'double'}) -%}
    {%- endfor -%}
    {%- set relation = source('raw', 'metrics_hourly') -%}
    {%- set groups = _raw_metric_file_groups(targets) if execute else [] -%}
    {%- if groups | length <= 1 -%}
        {#- At parse time, with no files, or when every file has the same types: the glob. -#}
        {%- set contract = {'timestamp': 'TIMESTAMP WITH TIME ZONE', 'server_id': 'VARCHAR'} -%}
        {%- for column in targets if column not in contract -%}
            {%- do contract.update({column: 'FLOAT'}) -%}
        {%- endfor -%}
        {%- set types = groups[0]['types'] if groups else contract -%}
        {{ _raw_metrics_select(relation, targets, types, 'all files') }}
    {%- else -%}
        {%- set glob = "'" ~ var('raw_root') ~ "/metrics/*/*.parquet'" -%}
        {%- if glob not in relation | string -%}
            {{ exceptions.raise_compiler_error(
                "raw_metrics_typed: the metrics source no longer reads " ~ glob ~ "; update this macro") }}
        {%- endif -%}
        {%- for group in groups %}
            {%- set files = [] -%}
            {%- for file in group['files'] -%}
                {%- do files.append("'" ~ file | replace("'", "''") ~ "'") -%}
            {%- endfor %}
        {{ _raw_metrics_select(relation | string | replace(glob, '[' ~ files | join(', ') ~ ']'),
                               targets, group['types'], group['files'] | length ~ ' file(s)') }}
        {{ 'union all by name' if not loop.last }}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}


{% macro _raw_metrics_prefix() -%}
    {{- var('raw_root').rstrip('/') ~ '/metrics/' -}}
{%- endmacro %}


{% macro _raw_metrics_select(relation, targets, types, label) %}
    -- {{ label }}: {% for column, type in types.items() | sort %}{{ column }} {{ type }}{{ ", " if not loop.last }}{% endfor %}
    select
        filename,
        file_row_number,
        cast("date" as date) as "date",
        {%- for column, target in targets.items() %}
        {{ _raw_cast(column, target, types.get(column)) }} as "{{ column }}"{{ "," if not loop.last }}
        {%- endfor %}
    from {{ relation }}
{% endmacro %}


{% macro _raw_cast(column, target, type) -%}
    {#- From the file's own type straight to the contract type; anything else through text
        (a list, a boolean or a time reads as NULL, not as 1.0 or an epoch). -#}
    {%- set numeric = ['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT',
                       'UINTEGER', 'UBIGINT', 'UHUGEINT', 'FLOAT', 'DOUBLE'] -%}
    {%- set quoted = '"' ~ column ~ '"' -%}
    {%- if type is none -%}
        cast(null as {{ target }})
    {%- elif target == 'double' and (type in numeric or type.startswith('DECIMAL')) -%}
        cast({{ quoted }} as double)
    {%- elif target == 'timestamptz' and (type.startswith('TIMESTAMP') or type in ['DATE', 'VARCHAR']) -%}
        try_cast({{ quoted }} as timestamptz)
    {%- elif target == 'varchar' and type != 'NESTED' -%}
        cast({{ quoted }} as varchar)
    {%- else -%}
        try_cast(cast({{ quoted }} as varchar) as {{ target }})
    {%- endif -%}
{%- endmacro %}


{% macro _raw_metric_file_groups(targets) -%}
    {#- [{'types': {column: duckdb type}, 'files': [...]}, ...]; raises on layout problems. -#}
    {%- set prefix = _raw_metrics_prefix() -%}
    {%- set names = targets.keys() | list + ['filename', 'file_row_number', 'date'] -%}
    {%- set found = run_query("select (select count(*) from glob('" ~ prefix ~ "**') where lower(file) like '%.parquet'), "
                              ~ "(select count(*) from glob('" ~ prefix ~ "*/*.parquet'))").rows[0] -%}
    {%- if found[0] == 0 -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set result = run_query(_raw_metric_files_sql(prefix, names, with_schema=found[1] > 0)) -%}
    {%- set problems = [] -%}
    {%- set groups = [] -%}
    {%- for kind, detail, files in result.rows -%}
        {%- if kind == 'problem' -%}
            {%- do problems.append('  ' ~ files ~ ': ' ~ detail) -%}
        {%- else -%}
            {%- set types = {} -%}
            {%- for pair in detail.split('|') if pair -%}
                {%- set column, type = pair.split('=', 1) -%}
                {%- do types.update({column: type}) -%}
            {%- endfor -%}
            {%- do groups.append({'types': types, 'files': files.split('\n')}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if problems -%}
        {{ exceptions.raise_compiler_error(
            problems | length ~ " raw metrics file(s) break the raw contract; fix, move or remove them and re-run:\n"
            ~ problems | join('\n')) }}
    {%- endif -%}
    {{ return(groups) }}
{%- endmacro %}


{% macro _raw_metric_files_sql(prefix, names, with_schema) %}
with

all_files as (

    select file as file_name, substr(file, {{ prefix | length + 1 }}) as relative_path
    from glob('{{ prefix }}**')
    where lower(file) like '%.parquet'

),

misplaced as (

    select
        'problem' as kind,
        'not in metrics/date=YYYY-MM-DD/<name>.parquet (nested, outside a partition, a bad date, '
            || 'or a name with a quote, glob character or line break)' as detail,
        file_name as files
    from all_files
    where not regexp_full_match(relative_path, 'date=[0-9]{4}-[0-9]{2}-[0-9]{2}/[^/''*?\[\]{}\n\\]+[.]parquet')
       or try_cast(substr(relative_path, 6, 10) as date) is null

){% if with_schema %},

schema_elements as (

    select
        file_name,
        column_id,
        lower(name) as column_name,
        coalesce(duckdb_type, 'NESTED') as column_type,
        coalesce(num_children, 0) as children
    from parquet_schema('{{ prefix }}*/*.parquet')
    where column_id > 0

),

balanced as (

    -- The footer lists the schema tree depth first. With i the position and c the children
    -- of each element, balance = (i - 1) - sum(c before i) reaches a new maximum exactly at
    -- each top-level column (every earlier subtree is complete): nested names are skipped.
    select
        *,
        row_number() over by_position - 1
            - coalesce(sum(children) over (by_position rows between unbounded preceding and 1 preceding), 0)
            as balance
    from schema_elements
    window by_position as (partition by file_name order by column_id)

),

top_level as (

    select file_name, column_name, column_type
    from balanced
    qualify balance > coalesce(max(balance) over (
        partition by file_name order by column_id rows between unbounded preceding and 1 preceding
    ), -1)

),

contract_columns as (

    select * from top_level
    where column_name in ({% for name in names %}'{{ name }}'{{ ", " if not loop.last }}{% endfor %})

),

reserved as (

    select
        'problem' as kind,
        'has a column named ' || string_agg(column_name, ', ' order by column_name)
            || ', which the reader adds itself (hive partition key, source file and row): rename or drop it'
            as detail,
        file_name as files
    from contract_columns
    where column_name in ('filename', 'file_row_number', 'date')
    group by file_name

),

signatures as (

    select
        all_files.file_name,
        coalesce(string_agg(
            contract_columns.column_name || '=' || contract_columns.column_type, '|'
            order by contract_columns.column_name
        ), '') as signature,
        coalesce(bool_or(contract_columns.column_type = 'NESTED'), false) as is_nested
    from all_files
    left join contract_columns on all_files.file_name = contract_columns.file_name
    where all_files.file_name not in (select files from misplaced)
    group by all_files.file_name

),

file_groups as (

    select
        'group' as kind,
        signature as detail,
        string_agg(file_name, chr(10) order by file_name) as files
    from signatures
    group by signature, case when is_nested then file_name end

)

{%- endif %}

select * from misplaced
{%- if with_schema %}
union all
select * from reserved
union all
select * from file_groups
{%- endif %}
order by kind desc, files
{% endmacro %}
