with

servers as (

    select * from {{ ref('stg_raw__servers') }}

),

history as (

    select
        server_id,
        min(metric_date) as first_metric_date,
        max(metric_date) as last_metric_date,
        count(distinct metric_date) as days_with_data
    from {{ ref('int_daily_metrics_aggregated') }}
    group by server_id

),

final as (

    select
        servers.server_id,
        servers.archetype,
        servers.instance_type,
        servers.region,
        servers.business_unit,
        servers.environment,
        servers.vcpus,
        servers.memory_gb,
        coalesce(history.days_with_data, 0) as days_with_data,
        coalesce(history.days_with_data, 0) < {{ var('min_history_days') }} as is_short_history,
        servers.decommissioned_date is not null as is_decommissioned,
        servers.commissioned_date,
        servers.decommissioned_date,
        history.first_metric_date,
        history.last_metric_date

    from servers
    left join history on servers.server_id = history.server_id

)

select * from final
