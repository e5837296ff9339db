-- The inventory, typed. Optional contract columns (owner, capacities, last resize) may be
-- absent from some or all inventory files: `union all by name` with a typed zero-row select
-- gives every column, NULL where a file lacks it, with the types declared here.
with

source as (

    select * from {{ source('raw', 'servers') }}

),

contract_columns as (

    select
        cast(null as varchar) as server_id,
        cast(null as varchar) as archetype,
        cast(null as varchar) as instance_type,
        cast(null as varchar) as region,
        cast(null as varchar) as business_unit,
        cast(null as varchar) as environment,
        cast(null as varchar) as owner,
        cast(null as integer) as vcpus,
        cast(null as integer) as memory_gb,
        cast(null as double) as disk_mbps,
        cast(null as double) as network_mbps,
        cast(null as date) as commissioned_date,
        cast(null as date) as decommissioned_date,
        cast(null as date) as last_resized_date
    where false

),

unioned as (

    select * from contract_columns
    union all by name
    select * from source

),

renamed as (

    select
        cast(server_id as varchar) as server_id,
        cast(archetype as varchar) as archetype,
        cast(instance_type as varchar) as instance_type,
        cast(region as varchar) as region,
        cast(business_unit as varchar) as business_unit,
        cast(environment as varchar) as environment,
        cast(owner as varchar) as owner,
        cast(vcpus as integer) as vcpus,
        cast(memory_gb as integer) as memory_gb,
        cast(disk_mbps as double) as disk_mbps,
        cast(network_mbps as double) as network_mbps,
        vcpus is not null and memory_gb is not null as is_size_known,
        cast(commissioned_date as date) as commissioned_date,
        cast(decommissioned_date as date) as decommissioned_date,
        cast(last_resized_date as date) as last_resized_date

    from unioned

)

select * from renamed
