-- Fleet health per day x metric from the daily facts: how many servers reported a trusted
-- daily P95, its distribution across the fleet, and how many servers were above their
-- archetype's thresholds that day (strictly above, like the risk classes).
with

daily as (

    select * from {{ ref('fct_server_daily_metrics') }}

),

thresholds as (

    select * from {{ ref('dim_risk_thresholds') }}

),

flagged as (

    select
        daily.metric_date,
        daily.metric,
        daily.server_id,
        daily.p95_pct,
        daily.is_low_coverage,
        daily.p95_pct > thresholds.high_risk_threshold_pct as is_above_high,
        daily.p95_pct > thresholds.very_high_risk_threshold_pct as is_above_very_high

    from daily
    left join thresholds
        on daily.archetype = thresholds.archetype and daily.metric = thresholds.metric

),

final as (

    select
        metric,
        count(*) filter (where not is_low_coverage and p95_pct is not null)
            as servers_reporting,
        count(*) filter (where is_low_coverage) as servers_low_coverage,
        count(*) filter (where not is_low_coverage and is_above_high)
            as servers_above_high,
        count(*) filter (where not is_low_coverage and is_above_very_high)
            as servers_above_very_high,
        avg(p95_pct) filter (where not is_low_coverage) as mean_p95_pct,
        median(p95_pct) filter (where not is_low_coverage) as median_p95_pct,
        quantile_cont(p95_pct, 0.9) filter (where not is_low_coverage) as p90_p95_pct,
        max(p95_pct) filter (where not is_low_coverage) as max_p95_pct,
        metric_date

    from flagged
    group by metric_date, metric

)

select * from final
