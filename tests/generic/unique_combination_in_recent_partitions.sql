{#-
    Primary-key test for views over raw files, scoped to the most recent `days` partitions
    (the ones an incremental run reloads), where a join that duplicates rows shows up
    without re-scanning years of raw rows on every build.
-#}
{% test unique_combination_in_recent_partitions(model, combination_of_columns, partition_column, days) %}
with recent as (
    select *
    from {{ model }}
    where {{ partition_column }} >= (select max({{ partition_column }}) from {{ model }})
        - interval {{ days }} day
)
select {{ combination_of_columns | join(', ') }}, count(*) as n_records
from recent
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}
