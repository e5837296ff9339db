-- Seed Stage 2: quarter-end spikes must be visible. Fleet-wide, CPU daily P95 in the
-- quarter-end window must exceed the two weeks before it by at least 2 %. Flat data fails.
-- Severity from var eda_pattern_severity ('warn' for a real fleet without this pattern).
{{ config(severity = var('eda_pattern_severity')) }}

with

daily as (

    select metric_date, avg(p95_pct) as fleet_p95_pct
    from {{ ref('fct_server_daily_metrics') }}
    where metric = 'cpu' and not is_low_coverage
    group by metric_date

),

labelled as (

    select daily.*, calendar.days_to_quarter_end
    from daily
    inner join {{ ref('int_calendar_days_generated') }} as calendar
        on daily.metric_date = calendar.calendar_date

),

compared as (

    select
        avg(fleet_p95_pct) filter (where days_to_quarter_end < {{ var('quarter_end_window_days') }})
        / avg(fleet_p95_pct) filter (
            where days_to_quarter_end
            between {{ var('quarter_end_window_days') }} and {{ var('quarter_end_window_days') }} + 13
        ) as quarter_end_ratio
    from labelled

)

select * from compared
where quarter_end_ratio is null or quarter_end_ratio < 1.02
