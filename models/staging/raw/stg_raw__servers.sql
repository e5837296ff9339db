with

source as (

    select * from {{ source('raw', 'servers') }}

),

renamed as (

    select
        cast(server_id as varchar) as server_id,
        cast(archetype as varchar) as archetype,
        cast(instance_type as varchar) as instance_type,
        cast(region as varchar) as region,
        cast(business_unit as varchar) as business_unit,
        cast(environment as varchar) as environment,
        cast(vcpus as integer) as vcpus,
        cast(memory_gb as integer) as memory_gb,
        cast(commissioned_date as date) as commissioned_date,
        cast(decommissioned_date as date) as decommissioned_date

    from source

)

select * from renamed
