-- Capacity risk per server x metric x window (var risk_windows), from calibrated breach
-- probabilities: P(the largest daily P95 of the window > threshold), see
-- int_breach_probabilities. A flag is raised when that probability reaches var
-- breach_probability_cutoff.
--
-- risk_state (what a planner acts on), first match wins:
--   breaching_now    the origin day's daily P95 is above the high threshold (with since when)
--   forecast_breach  P(window max > high) >= cutoff: first likely crossing date, lead time
--   underutilized    30-day mean of daily P95 below the underutilized threshold, no daily
--                    P95 at or above the consolidation ceiling in the last 90 days, and
--                    P(window max > ceiling) below var underutilized_max_probability
--   normal           otherwise
-- risk_class keeps the seed's classes: very_high_risk (P(> very high) >= cutoff, or above it
-- now), high_risk (P(> high) >= cutoff, or above it now), underutilized, normal.
with

probabilities as (

    select * from {{ ref('int_breach_probabilities') }}

),

thresholds as (

    select * from {{ ref('int_risk_thresholds_resolved') }}

),

series as (

    -- one row per live series x window, with its resolved thresholds
    select distinct
        probabilities.server_id,
        probabilities.metric,
        cast(probabilities.window_days as integer) as window_days,
        cast(probabilities.origin_date as date) as origin_date,
        probabilities.is_extrapolated,
        servers.archetype,
        thresholds.high_risk_threshold_pct,
        thresholds.very_high_risk_threshold_pct,
        thresholds.underutilized_threshold_pct,
        thresholds.consolidation_peak_ceiling_pct
    from probabilities
    inner join {{ ref('stg_raw__servers') }} as servers
        on probabilities.server_id = servers.server_id
    inner join thresholds
        on servers.archetype = thresholds.archetype and probabilities.metric = thresholds.metric

),

at_thresholds as (

    select
        series.*,
        high.probability as p_breach_high,
        high.days_to_likely_crossing as days_to_likely_breach_high,
        high.median_days_to_crossing as median_days_to_breach_high,
        very_high.probability as p_breach_very_high,
        very_high.days_to_likely_crossing as days_to_likely_breach_very_high,
        ceiling.probability as p_exceed_consolidation_ceiling
    from series
    left join probabilities as high
        on series.server_id = high.server_id and series.metric = high.metric
        and series.window_days = high.window_days
        and series.high_risk_threshold_pct = high.threshold_pct
    left join probabilities as very_high
        on series.server_id = very_high.server_id and series.metric = very_high.metric
        and series.window_days = very_high.window_days
        and series.very_high_risk_threshold_pct = very_high.threshold_pct
    left join probabilities as ceiling
        on series.server_id = ceiling.server_id and series.metric = ceiling.metric
        and series.window_days = ceiling.window_days
        and series.consolidation_peak_ceiling_pct = ceiling.threshold_pct

),

daily as (

    select server_id, metric, metric_date, p95_pct
    from {{ ref('fct_server_daily_metrics') }}
    where not is_low_coverage

),

recent as (

    select
        series.server_id,
        series.metric,
        series.window_days,
        max(daily.p95_pct) filter (where daily.metric_date = series.origin_date) as current_p95_pct,
        avg(daily.p95_pct) filter (where daily.metric_date > series.origin_date - 30) as avg_30d_p95_pct,
        max(daily.p95_pct) filter (where daily.metric_date > series.origin_date - 90) as max_90d_p95_pct,
        -- the current run above the high threshold starts the day after the last day at or
        -- below it (or with the series, if it never was)
        max(daily.metric_date) filter (where daily.p95_pct <= series.high_risk_threshold_pct)
            as last_day_not_breaching,
        min(daily.metric_date) as first_day,
        regr_slope(daily.p95_pct, datediff('day', series.origin_date, daily.metric_date))
        filter (where daily.metric_date > series.origin_date - 90) * 30 as trend_pct_per_30d
    from series
    inner join daily
        on series.server_id = daily.server_id and series.metric = daily.metric
        and series.origin_date >= daily.metric_date
    group by series.server_id, series.metric, series.window_days

),

windows as (

    select distinct window_days from series

),

forecast_peak as (

    -- the champion forecast's peak in the window: evidence, not the flag
    select
        forecasts.server_id,
        forecasts.metric,
        windows.window_days,
        any_value(forecasts.model) as model,
        max(forecasts.yhat_pct) as max_forecast_p95_pct,
        arg_max(forecasts.forecast_date, forecasts.yhat_pct) as peak_date,
        arg_max(forecasts.yhat_upper_80_pct, forecasts.yhat_pct) as upper_80_at_peak_pct,
        bool_or(forecasts.is_low_confidence) as is_forecast_low_confidence
    from {{ ref('fct_forecasts') }} as forecasts
    inner join windows
        on forecasts.horizon_days <= windows.window_days
    where forecasts.is_champion
    group by forecasts.server_id, forecasts.metric, windows.window_days

),

combined as (

    select
        at_thresholds.*,
        recent.current_p95_pct,
        recent.avg_30d_p95_pct,
        recent.max_90d_p95_pct,
        recent.trend_pct_per_30d,
        case
            when recent.current_p95_pct > at_thresholds.high_risk_threshold_pct
                then coalesce(recent.last_day_not_breaching + 1, recent.first_day)
        end as breaching_since_date,
        forecast_peak.model,
        forecast_peak.max_forecast_p95_pct,
        forecast_peak.peak_date,
        forecast_peak.upper_80_at_peak_pct,
        coalesce(forecast_peak.is_forecast_low_confidence, true) as is_forecast_low_confidence,
        coalesce(at_thresholds.p_breach_high >= {{ var('breach_probability_cutoff') }}, false)
            as is_flagged_high,
        coalesce(at_thresholds.p_breach_very_high >= {{ var('breach_probability_cutoff') }}, false)
            as is_flagged_very_high
    from at_thresholds
    left join recent
        on at_thresholds.server_id = recent.server_id and at_thresholds.metric = recent.metric
        and at_thresholds.window_days = recent.window_days
    left join forecast_peak
        on at_thresholds.server_id = forecast_peak.server_id
        and at_thresholds.metric = forecast_peak.metric
        and at_thresholds.window_days = forecast_peak.window_days

),

classified as (

    select
        *,
        {{ risk_state(
            'current_p95_pct', 'high_risk_threshold_pct', 'is_flagged_high', 'avg_30d_p95_pct',
            'max_90d_p95_pct', 'p_exceed_consolidation_ceiling', 'underutilized_threshold_pct',
            'consolidation_peak_ceiling_pct') }} as risk_state
    from combined

),

final as (

    select
        server_id,
        metric,
        archetype,
        risk_state,
        case
            when is_flagged_very_high or current_p95_pct > very_high_risk_threshold_pct
                then 'very_high_risk'
            when risk_state in ('breaching_now', 'forecast_breach') then 'high_risk'
            when risk_state = 'underutilized' then 'underutilized'
            else 'normal'
        end as risk_class,
        case
            when risk_state = 'breaching_now' then 'add capacity now'
            when is_flagged_very_high then 'immediate upgrade'
            when risk_state = 'forecast_breach' then 'plan upgrade'
            when risk_state = 'underutilized' then 'consolidation candidate'
            else 'monitor'
        end as recommended_action,
        case risk_state
            when 'breaching_now'
                then printf(
                    '%s daily P95 %.1f%% on %s is above the %.0f%% threshold since %s',
                    metric, current_p95_pct, strftime(origin_date, '%Y-%m-%d'),
                    high_risk_threshold_pct, strftime(breaching_since_date, '%Y-%m-%d')
                )
            when 'forecast_breach'
                then printf(
                    '%s: P(daily P95 > %.0f%% within %d days) = %.0f%% (cut-off %.0f%%), likely by %s; '
                    || '90-day max %.1f%%, 30-day mean %.1f%%, trend %+.1f pts/30d',
                    metric, high_risk_threshold_pct, window_days, 100 * p_breach_high,
                    100 * {{ var('breach_probability_cutoff') }},
                    strftime(origin_date + cast(days_to_likely_breach_high as integer), '%Y-%m-%d'),
                    coalesce(max_90d_p95_pct, 0), coalesce(avg_30d_p95_pct, 0),
                    coalesce(trend_pct_per_30d, 0)
                )
            when 'underutilized'
                then printf(
                    '%s: 30-day mean of daily P95 %.1f%% < %.0f%%, 90-day max %.1f%% and '
                    || 'P(> %.0f%% within %d days) = %.1f%%',
                    metric, avg_30d_p95_pct, underutilized_threshold_pct, max_90d_p95_pct,
                    consolidation_peak_ceiling_pct, window_days, 100 * p_exceed_consolidation_ceiling
                )
            else printf(
                '%s: P(daily P95 > %.0f%% within %d days) = %.0f%%, below the %.0f%% cut-off',
                metric, high_risk_threshold_pct, window_days, 100 * coalesce(p_breach_high, 0),
                100 * {{ var('breach_probability_cutoff') }}
            )
        end
        || case when is_extrapolated then ' (window longer than the history: extrapolated)' else '' end
            as why_flagged,
        model,
        window_days,
        case when risk_state = 'forecast_breach' then cast(days_to_likely_breach_high as integer) end
            as days_to_breach,
        case when risk_state = 'forecast_breach' then cast(median_days_to_breach_high as integer) end
            as median_days_to_breach,
        current_p95_pct,
        avg_30d_p95_pct,
        max_90d_p95_pct,
        trend_pct_per_30d,
        p_breach_high,
        p_breach_very_high,
        p_exceed_consolidation_ceiling,
        max_forecast_p95_pct,
        upper_80_at_peak_pct,
        high_risk_threshold_pct,
        very_high_risk_threshold_pct,
        underutilized_threshold_pct,
        consolidation_peak_ceiling_pct,
        cast({{ var('breach_probability_cutoff') }} as double) as breach_probability_cutoff,
        is_extrapolated as is_probability_extrapolated,
        is_extrapolated or is_forecast_low_confidence as is_low_confidence,
        origin_date,
        breaching_since_date,
        case
            when risk_state = 'forecast_breach'
                then origin_date + cast(days_to_likely_breach_high as integer)
        end as first_likely_breach_date,
        peak_date

    from classified

)

select * from final
