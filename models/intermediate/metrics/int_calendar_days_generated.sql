-- One row per day from the first observed day through the forecast horizon past the last,
-- with the calendar features forecasting and risk rules use.
with

bounds as (

    select min(metric_date) as first_date, max(metric_date) as last_date
    from {{ ref('int_daily_metrics_aggregated') }}

),

days as (

    select
        cast(unnest(generate_series(
            first_date, last_date + interval {{ var('forecast_horizon_days') }} day, interval 1 day
        )) as date) as calendar_date
    from bounds

),

enriched as (

    select
        calendar_date,
        isodow(calendar_date) - 1 as day_of_week,
        month(calendar_date) as month_of_year,
        quarter(calendar_date) as quarter_of_year,
        year(calendar_date) as calendar_year,
        dayofyear(calendar_date) as day_of_year,
        cast(last_day(calendar_date) as date) as month_end_date,
        cast(date_trunc('quarter', calendar_date) + interval 3 month - interval 1 day as date)
            as quarter_end_date
    from days

),

final as (

    select
        calendar_date,
        day_of_week,
        month_of_year,
        quarter_of_year,
        calendar_year,
        day_of_year,
        quarter_end_date - calendar_date as days_to_quarter_end,
        day_of_week >= 5 as is_weekend,
        calendar_date = month_end_date as is_month_end,
        quarter_end_date - calendar_date < {{ var('quarter_end_window_days') }} as is_end_of_quarter,
        strftime(calendar_date, '%m-%d') in (
            {%- for day in var('holidays') %}'{{ day }}'{{ ", " if not loop.last }}{% endfor -%}
        ) as is_holiday,
        month_end_date,
        quarter_end_date

    from enriched

)

select * from final
