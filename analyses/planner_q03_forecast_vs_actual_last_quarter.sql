-- Planner question 3: how did the forecast for one server compare with its actuals last quarter?
-- Today's marts keep only today's forecasts (fct_forecasts); past forecasts per server are
-- not archived yet (an archive joined to actuals is being added, issue 13). Until then this
-- compares last quarter's actual daily P95 of the server with the error the backtest
-- measured, on a test window, for its archetype x metric champion (fct_forecast_champions):
-- the band the forecast is expected to be within.
-- The server: edit `chosen` (default: the live server with the highest memory P95 today).
with

chosen as (

    select server_id, archetype
    from {{ ref('fct_server_summary') }}
    order by memory_current_p95_pct desc nulls last, server_id asc
    limit 1

),

origin as (

    select max(metric_date) as last_day from {{ ref('fct_server_daily_metrics') }}

),

last_quarter as (

    select
        previous_day.quarter_label,
        previous_day.quarter_start_date,
        previous_day.quarter_end_date
    from origin
    inner join {{ ref('dim_dates') }} as today
        on origin.last_day = today.calendar_date
    inner join {{ ref('dim_dates') }} as previous_day
        on today.quarter_start_date - 1 = previous_day.calendar_date

),

actuals as (

    select
        daily.server_id,
        daily.metric,
        last_quarter.quarter_label,
        count(*) as days,
        round(avg(daily.p95_pct), 1) as actual_avg_p95_pct,
        round(max(daily.p95_pct), 1) as actual_max_p95_pct
    from {{ ref('fct_server_daily_metrics') }} as daily
    inner join chosen on daily.server_id = chosen.server_id
    inner join last_quarter
        on daily.metric_date between last_quarter.quarter_start_date and last_quarter.quarter_end_date
    where not daily.is_low_coverage
    group by all

)

select
    actuals.*,
    champions.horizon_bucket,
    champions.champion_model,
    round(champions.test_mae_pct, 2) as champion_test_mae_pts,
    round(champions.test_moving_average_mae_pct, 2) as moving_average_test_mae_pts,
    round(champions.test_coverage_80, 3) as champion_test_coverage_80
from actuals
inner join chosen on actuals.server_id = chosen.server_id
left join {{ ref('fct_forecast_champions') }} as champions
    on chosen.archetype = champions.archetype and actuals.metric = champions.metric
order by actuals.metric, champions.horizon_bucket
