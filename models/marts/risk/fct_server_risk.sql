-- One row per server x window: the worst class over its metrics, with the metric that drives
-- it. A server is a consolidation candidate only when every configured metric was assessed
-- and every one is underutilized: a resource we cannot see is never assumed idle.
with

risk as (

    select
        *,
        {{ risk_severity('risk_class') }} as severity,
        {{ risk_state_severity('risk_state') }} as state_severity
    from {{ ref('fct_capacity_risk') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by server_id, window_days
            order by severity desc, state_severity desc, p_breach_high desc nulls last, metric asc
        ) as rank_in_server,
        count(*) over (partition by server_id, window_days) as metrics_assessed,
        min(first_likely_breach_date) over (partition by server_id, window_days)
            as first_likely_breach_date_any_metric
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
            when risk_state = 'underutilized' and metrics_assessed < {{ var('metrics') | length }}
                then 'normal'
            else risk_state
        end as risk_state,
        case
            when risk_class = 'underutilized' and metrics_assessed < {{ var('metrics') | length }}
                then 'monitor'
            else recommended_action
        end as recommended_action,
        metric as driving_metric,
        why_flagged,
        model,
        window_days,
        metrics_assessed,
        days_to_breach,
        current_p95_pct,
        p_breach_high,
        p_breach_very_high,
        max_forecast_p95_pct,
        is_low_confidence,
        origin_date,
        breaching_since_date,
        first_likely_breach_date_any_metric as first_likely_breach_date

    from ranked
    where rank_in_server = 1

)

select * from final
