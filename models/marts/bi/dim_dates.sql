-- The public date dimension: every day from the first observed day through the forecast
-- horizon, with the calendar features the forecasts and risk rules use, so BI tools can group
-- by quarter or filter quarter-end windows without rebuilding calendar logic.
with

calendar as (

    select * from {{ ref('int_calendar_days_generated') }}

),

observed as (

    select max(metric_date) as last_observed_date from {{ ref('int_daily_metrics_aggregated') }}

),

final as (

    select
        calendar.calendar_date,
        strftime(calendar.calendar_date, '%Y') || '-Q' || calendar.quarter_of_year as quarter_label,
        strftime(calendar.calendar_date, '%Y-%m') as month_label,
        dayname(calendar.calendar_date) as day_name,
        calendar.calendar_year,
        calendar.quarter_of_year,
        calendar.month_of_year,
        cast(isoyear(calendar.calendar_date) as bigint) as iso_year,
        cast(weekofyear(calendar.calendar_date) as bigint) as iso_week,
        calendar.day_of_week,
        calendar.day_of_year,
        calendar.days_to_quarter_end,
        calendar.is_weekend,
        calendar.is_month_end,
        calendar.is_end_of_quarter,
        calendar.is_holiday,
        calendar.calendar_date > observed.last_observed_date as is_forecast_period,
        cast(date_trunc('month', calendar.calendar_date) as date) as month_start_date,
        calendar.month_end_date,
        cast(date_trunc('quarter', calendar.calendar_date) as date) as quarter_start_date,
        calendar.quarter_end_date

    from calendar
    cross join observed

)

select * from final
