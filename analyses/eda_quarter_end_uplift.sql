-- Seed Stage 2: how much busier the quarter-end window is than the rest of the quarter,
-- per archetype and metric (ratio of average daily P95).
select
    daily.archetype,
    daily.metric,
    round(
        avg(daily.p95_pct) filter (where calendar.is_end_of_quarter)
        / avg(daily.p95_pct) filter (where not calendar.is_end_of_quarter), 3
    ) as quarter_end_uplift_ratio,
    round(
        avg(daily.p95_pct) filter (where calendar.is_month_end)
        / avg(daily.p95_pct) filter (where not calendar.is_month_end), 3
    ) as month_end_uplift_ratio
from {{ ref('fct_server_daily_metrics') }} as daily
inner join {{ ref('dim_dates') }} as calendar
    on daily.metric_date = calendar.calendar_date
group by all
order by quarter_end_uplift_ratio desc
