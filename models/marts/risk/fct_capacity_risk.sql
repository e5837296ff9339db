-- Capacity risk per server x metric x window (var risk_windows, default 30 and 90 days), from
-- the champion forecast distribution, with the evidence behind each flag.
--
-- Classes (seed Stage 6), first match wins:
--   very_high_risk  forecast daily P95 > very-high threshold on some day in the window
--   high_risk       forecast daily P95 > high threshold on some day in the window
--   underutilized   30-day average < underutilized threshold AND the 80 % upper bound stays
--                   below consolidation_peak_ceiling through the next quarter end
--   normal          otherwise
-- p_breach_*: the largest daily exceedance probability in the window. Forecast errors are
-- dominated by persistent level error, so days are strongly dependent; the maximum (errors
-- moving together) is the honest single number, the independence product would overstate it.
with

windows as (

    select unnest({{ var('risk_windows') }}) as window_days

),

forecasts as (

    select * from {{ ref('fct_forecasts') }}
    where is_champion

),

thresholds as (

    select * from {{ ref('int_risk_thresholds_resolved') }}

),

scored as (

    select
        forecasts.*,
        thresholds.high_risk_threshold_pct,
        thresholds.very_high_risk_threshold_pct,
        thresholds.underutilized_threshold_pct,
        thresholds.consolidation_peak_ceiling_pct,
        {{ exceedance_probability('thresholds.high_risk_threshold_pct') }} as p_exceed_high,
        {{ exceedance_probability('thresholds.very_high_risk_threshold_pct') }} as p_exceed_very_high
    from forecasts
    inner join thresholds
        on forecasts.archetype = thresholds.archetype and forecasts.metric = thresholds.metric

),

windowed as (

    select
        scored.server_id,
        scored.metric,
        windows.window_days,
        any_value(scored.archetype) as archetype,
        any_value(scored.model) as model,
        any_value(scored.run_id) as run_id,
        max(scored.yhat_pct) as max_forecast_p95_pct,
        arg_max(scored.yhat_lower_80_pct, scored.yhat_pct) as lower_80_at_peak_pct,
        arg_max(scored.yhat_upper_80_pct, scored.yhat_pct) as upper_80_at_peak_pct,
        max(scored.p_exceed_high) as p_breach_high,
        max(scored.p_exceed_very_high) as p_breach_very_high,
        any_value(scored.high_risk_threshold_pct) as high_risk_threshold_pct,
        any_value(scored.very_high_risk_threshold_pct) as very_high_risk_threshold_pct,
        any_value(scored.underutilized_threshold_pct) as underutilized_threshold_pct,
        any_value(scored.consolidation_peak_ceiling_pct) as consolidation_peak_ceiling_pct,
        bool_or(scored.is_low_confidence) as is_low_confidence,
        any_value(scored.origin_date) as origin_date,
        arg_max(scored.forecast_date, scored.yhat_pct) as peak_date,
        min(scored.forecast_date) filter (where scored.yhat_pct > scored.high_risk_threshold_pct)
            as first_breach_high_date,
        min(scored.forecast_date) filter (where scored.yhat_pct > scored.very_high_risk_threshold_pct)
            as first_breach_very_high_date
    from scored
    inner join windows on scored.horizon_days <= windows.window_days
    group by scored.server_id, scored.metric, windows.window_days

),

through_quarter_end as (

    select
        scored.server_id,
        scored.metric,
        max(scored.yhat_upper_80_pct) as max_upper_80_to_quarter_end_pct
    from scored
    inner join {{ ref('int_calendar_days_generated') }} as calendar
        on calendar.calendar_date = scored.origin_date + interval 1 day
    where scored.forecast_date <= calendar.quarter_end_date
    group by scored.server_id, scored.metric

),

history as (

    select
        daily.server_id,
        daily.metric,
        avg(daily.mean_pct) filter (where daily.metric_date > last.last_date - 30) as avg_30d_pct,
        -- least-squares slope of daily P95 over the last 90 days, in points per 30 days
        regr_slope(daily.p95_pct, datediff('day', last.last_date, daily.metric_date)) filter (
            where daily.metric_date > last.last_date - 90 and not daily.is_low_coverage
        ) * 30 as trend_pct_per_30d,
        avg(daily.p95_pct) filter (
            where calendar.is_end_of_quarter and daily.metric_date > last.last_date - 365
        ) / avg(daily.p95_pct) filter (
            where not calendar.is_end_of_quarter and daily.metric_date > last.last_date - 365
        ) as quarter_end_uplift_ratio
    from {{ ref('fct_server_daily_metrics') }} as daily
    -- a one-row derived table (the newest day) reads more plainly inline than as a CTE
    cross join (  -- noqa: ST05
        select max(metric_date) as last_date from {{ ref('fct_server_daily_metrics') }}
    ) as last
    inner join {{ ref('int_calendar_days_generated') }} as calendar
        on daily.metric_date = calendar.calendar_date
    group by daily.server_id, daily.metric

),

model_accuracy as (

    -- the backtest accuracy of the model actually used (the champion, or the pooled
    -- fallback for low-confidence series)
    select model, archetype, metric, mase as model_backtest_mase
    from {{ ref('fct_backtest_metrics') }}
    where horizon_bucket = 'all' and period = 'all'

),

classified as (

    select
        windowed.*,
        history.avg_30d_pct,
        history.trend_pct_per_30d,
        history.quarter_end_uplift_ratio,
        through_quarter_end.max_upper_80_to_quarter_end_pct,
        model_accuracy.model_backtest_mase,
        case
            when windowed.max_forecast_p95_pct > windowed.very_high_risk_threshold_pct then 'very_high_risk'
            when windowed.max_forecast_p95_pct > windowed.high_risk_threshold_pct then 'high_risk'
            when
                history.avg_30d_pct < windowed.underutilized_threshold_pct
                and (
                    through_quarter_end.max_upper_80_to_quarter_end_pct
                    < windowed.consolidation_peak_ceiling_pct
                )
                then 'underutilized'
            else 'normal'
        end as risk_class

    from windowed
    left join history
        on windowed.server_id = history.server_id and windowed.metric = history.metric
    left join through_quarter_end
        on windowed.server_id = through_quarter_end.server_id
        and windowed.metric = through_quarter_end.metric
    left join model_accuracy
        on windowed.model = model_accuracy.model
        and windowed.archetype = model_accuracy.archetype
        and windowed.metric = model_accuracy.metric

),

final as (

    select
        server_id,
        metric,
        archetype,
        risk_class,
        case risk_class
            when 'very_high_risk' then 'immediate upgrade'
            when 'high_risk' then 'plan upgrade'
            when 'underutilized' then 'consolidation candidate'
            else 'monitor'
        end as recommended_action,
        printf(
            '%s daily P95 forecast peaks at %.1f%% on %s (80%% interval %.1f-%.1f%%) vs thresholds %.0f/%.0f%%; '
            || 'P(>%.0f%%) %.0f%%; trend %+.1f pts/30d; quarter-end uplift x%.2f; '
            || '30-day average %.1f%%; model %s (backtest MASE %.2f for %s)%s',
            metric, max_forecast_p95_pct, strftime(peak_date, '%Y-%m-%d'), lower_80_at_peak_pct,
            upper_80_at_peak_pct, high_risk_threshold_pct, very_high_risk_threshold_pct,
            high_risk_threshold_pct, 100 * p_breach_high, coalesce(trend_pct_per_30d, 0),
            coalesce(quarter_end_uplift_ratio, 1), coalesce(avg_30d_pct, 0), model,
            coalesce(model_backtest_mase, 0), archetype,
            case when is_low_confidence then '; LOW CONFIDENCE (short history)' else '' end
        ) as why_flagged,
        model,
        run_id,
        window_days,
        datediff('day', origin_date, first_breach_high_date) as days_to_breach_high,
        datediff('day', origin_date, first_breach_very_high_date) as days_to_breach_very_high,
        max_forecast_p95_pct,
        lower_80_at_peak_pct,
        upper_80_at_peak_pct,
        p_breach_high,
        p_breach_very_high,
        avg_30d_pct,
        trend_pct_per_30d,
        quarter_end_uplift_ratio,
        max_upper_80_to_quarter_end_pct,
        model_backtest_mase,
        high_risk_threshold_pct,
        very_high_risk_threshold_pct,
        underutilized_threshold_pct,
        consolidation_peak_ceiling_pct,
        is_low_confidence,
        origin_date,
        peak_date,
        first_breach_high_date,
        first_breach_very_high_date

    from classified

)

select * from final
