-- Would past flags have been right? At every backtest origin the champion's forecasts are
-- classified exactly like today's (forecast daily P95 above the threshold within the window)
-- and compared with what the actuals did. Precision, recall and lead time per class x window.
-- Series whose champion is Prophet count only where Prophet was backtested (a sample).
-- population 'not_breaching_at_origin' leaves out series already above the threshold on the
-- origin day: there a flag is no early warning, and lead time would be trivially one day.
with

windows as (

    select unnest({{ var('risk_windows') }}) as window_days

),

predictions as (

    select predictions.*
    from {{ ref('int_forecast_backtest_predictions') }} as predictions
    inner join {{ ref('fct_forecast_champions') }} as champions
        on predictions.archetype = champions.archetype
        and predictions.metric = champions.metric
        and predictions.model = champions.champion_model
    where not predictions.is_cold_start

),

per_series as (

    select
        predictions.server_id,
        predictions.metric,
        predictions.origin_date,
        windows.window_days,
        class.risk_class,
        coalesce(any_value(at_origin.p95_pct) > class.threshold_pct, false) as is_breaching_at_origin,
        bool_or(predictions.yhat_pct > class.threshold_pct) as is_flagged,
        bool_or(predictions.actual_pct > class.threshold_pct) as did_breach,
        min(predictions.horizon_days) filter (where predictions.yhat_pct > class.threshold_pct)
            as predicted_first_day,
        min(predictions.horizon_days) filter (where predictions.actual_pct > class.threshold_pct)
            as actual_first_day,
        max(predictions.horizon_days) as horizon_covered
    from predictions
    inner join {{ ref('int_risk_thresholds_resolved') }} as thresholds
        on predictions.archetype = thresholds.archetype and predictions.metric = thresholds.metric
    -- a lateral subquery reads the outer row (thresholds), so it cannot be a CTE
    cross join
        lateral (  -- noqa: ST05
            select 'high_risk' as risk_class, thresholds.high_risk_threshold_pct as threshold_pct
            union all
            select 'very_high_risk' as risk_class, thresholds.very_high_risk_threshold_pct as threshold_pct
        ) as class
    inner join windows on predictions.horizon_days <= windows.window_days
    left join {{ ref('fct_server_daily_metrics') }} as at_origin
        on predictions.server_id = at_origin.server_id
        and predictions.metric = at_origin.metric
        and predictions.origin_date = at_origin.metric_date
    group by
        predictions.server_id, predictions.metric, predictions.origin_date,
        windows.window_days, class.risk_class, class.threshold_pct
    having max(predictions.horizon_days) >= windows.window_days

),

populations as (

    select 'all' as population, * from per_series
    union all
    select 'not_breaching_at_origin' as population, * from per_series
    where not is_breaching_at_origin

),

scored as (

    select
        population,
        risk_class,
        window_days,
        count(*) as n_series_origins,
        count(distinct origin_date) as n_origins,
        count(*) filter (where is_flagged and did_breach) as true_positives,
        count(*) filter (where is_flagged and not did_breach) as false_positives,
        count(*) filter (where not is_flagged and did_breach) as false_negatives,
        count(*) filter (where not is_flagged and not did_breach) as true_negatives,
        median(actual_first_day) filter (where is_flagged and did_breach) as median_lead_time_days,
        avg(abs(predicted_first_day - actual_first_day)) filter (where is_flagged and did_breach)
            as mean_abs_breach_day_error
    from populations
    group by population, risk_class, window_days

),

final as (

    select
        *,
        true_positives / nullif(true_positives + false_positives, 0) as precision,
        true_positives / nullif(true_positives + false_negatives, 0) as recall
    from scored

)

select * from final
