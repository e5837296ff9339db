-- Planner question 8: which servers are consolidation candidates, and how many hosts are saved?
-- One row per group (K-Means on 24-hour profiles of underutilized servers) and a total row
-- (group_id NULL). Groups with a member of unknown size have NULL sizing (is_size_known).
with

groups as (

    select
        group_id,
        any_value(group_size) as servers,
        any_value(hosts_needed) as hosts_needed,
        any_value(servers_retired) as hosts_saved,
        bool_and(is_size_known) as is_size_known,
        string_agg(server_id, ', ' order by server_id) as members
    from {{ ref('fct_consolidation_groups') }}
    group by group_id

)

select
    group_id,
    sum(servers) as servers,
    sum(hosts_needed) as hosts_needed,
    sum(hosts_saved) as hosts_saved,
    bool_and(is_size_known) as is_size_known,
    any_value(members) as members
from groups
group by rollup(group_id)
order by group_id nulls last
