-- The consolidation groups as a public mart with an enforced contract. The clustering is a
-- Python model (int_consolidation_groups_clustered); dbt enforces contracts on SQL models
-- only, so this thin select carries the contract and the types.
with

clustered as (

    select * from {{ ref('int_consolidation_groups_clustered') }}

),

final as (

    select
        cast(server_id as varchar) as server_id,
        cast(group_id as integer) as group_id,
        cast(group_size as integer) as group_size,
        cast(chosen_k as integer) as chosen_k,
        cast(silhouette as double) as silhouette,
        cast(hosts_needed as integer) as hosts_needed,
        cast(servers_retired as integer) as servers_retired,
        cast(group_peak_cpu_vcpus as double) as group_peak_cpu_vcpus,
        cast(group_peak_memory_gb as double) as group_peak_memory_gb,
        cast(is_size_known as boolean) as is_size_known,
        cast(recommendation as varchar) as recommendation

    from clustered

)

select * from final
