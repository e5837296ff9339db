-- One class per server x window: the worst over its metrics, with the metric that drives it.
-- A server is a consolidation candidate only when every metric was assessed and every one is
-- underutilized: a resource we cannot see is never assumed idle.
with

risk as (

    select *, {{ risk_severity('risk_class') }} as severity
    from {{ ref('fct_capacity_risk') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by server_id, window_days
            order by severity desc, max_forecast_p95_pct desc, metric asc
        ) as rank_in_server,
        count(*) over (partition by server_id, window_days) as metrics_assessed
    from risk

),

final as (

    select
        server_id,
        archetype,
        case
            when risk_class = 'underutilized' and metrics_assessed < {{ var('metrics') | length }}
                then 'normal'
            else risk_class
        end as risk_class,
        case
            when risk_class = 'underutilized' and metrics_assessed < {{ var('metrics') | length }}
                then 'monitor'
            else recommended_action
        end as recommended_action,
        metric as driving_metric,
        why_flagged,
        model,
        run_id,
        window_days,
        metrics_assessed,
        days_to_breach_high,
        days_to_breach_very_high,
        max_forecast_p95_pct,
        p_breach_high,
        p_breach_very_high,
        is_low_confidence,
        origin_date

    from ranked
    where rank_in_server = 1

)

select * from final
