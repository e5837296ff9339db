-- Planner question 2: how much headroom does each archetype have next quarter?
-- Next quarter = the calendar quarter after the origin's (dim_dates quarter bounds). Headroom
-- = high threshold - the champion forecast's 80 % upper bound at its peak in that quarter,
-- in percentage points; forecast_days_covered says how much of the quarter the forecast
-- horizon (var forecast_horizon_days) reaches.
with

origin as (

    select max(origin_date) as origin_date from {{ ref('fct_champion_forecasts') }}

),

next_quarter as (

    select
        next_day.quarter_label,
        next_day.quarter_start_date,
        next_day.quarter_end_date
    from origin
    inner join {{ ref('dim_dates') }} as today
        on origin.origin_date = today.calendar_date
    inner join {{ ref('dim_dates') }} as next_day
        on today.quarter_end_date + 1 = next_day.calendar_date

),

peaks as (

    select
        forecasts.server_id,
        forecasts.archetype,
        forecasts.metric,
        next_quarter.quarter_label,
        max(forecasts.yhat_upper_80_pct) as peak_upper_80_pct,
        count(*) as forecast_days_covered,
        datediff('day', next_quarter.quarter_start_date, next_quarter.quarter_end_date) + 1 as quarter_days
    from {{ ref('fct_champion_forecasts') }} as forecasts
    inner join next_quarter
        on forecasts.forecast_date between next_quarter.quarter_start_date and next_quarter.quarter_end_date
    group by all

)

select
    peaks.quarter_label,
    peaks.archetype,
    peaks.metric,
    count(*) as servers,
    round(avg(thresholds.high_risk_threshold_pct - peaks.peak_upper_80_pct), 1) as avg_headroom_pts,
    round(min(thresholds.high_risk_threshold_pct - peaks.peak_upper_80_pct), 1) as min_headroom_pts,
    count(*) filter (where peaks.peak_upper_80_pct > thresholds.high_risk_threshold_pct)
        as servers_without_headroom,
    max(peaks.forecast_days_covered) as forecast_days_covered,
    max(peaks.quarter_days) as quarter_days
from peaks
inner join {{ ref('dim_risk_thresholds') }} as thresholds
    on peaks.archetype = thresholds.archetype and peaks.metric = thresholds.metric
group by all
order by min_headroom_pts, peaks.archetype, peaks.metric
