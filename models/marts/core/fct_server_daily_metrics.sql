with

daily as (

    select * from {{ ref('int_daily_metrics_aggregated') }}

),

servers as (

    select server_id, archetype from {{ ref('stg_raw__servers') }}

),

final as (

    select
        daily.server_id,
        daily.metric,
        servers.archetype,
        daily.p95_pct,
        daily.mean_pct,
        daily.max_pct,
        daily.hours_present,
        daily.coverage_ratio,
        daily.is_low_coverage,
        daily.metric_date

    from daily
    inner join servers on daily.server_id = servers.server_id

)

select * from final
