-- The forecast to use, one row per live server x metric x forecast day: the is_champion rows
-- of fct_forecasts with their intervals, so BI tools need no filter to avoid double counting.
select
    server_id,
    metric,
    archetype,
    model,
    run_id,
    horizon_days,
    history_days,
    yhat_pct,
    yhat_lower_80_pct,
    yhat_upper_80_pct,
    yhat_lower_95_pct,
    yhat_upper_95_pct,
    is_low_confidence,
    origin_date,
    forecast_date,
    trained_at
from {{ ref('fct_forecasts') }}
where is_champion
