-- Expanding-window time-series cross-validation inside the training part.
select
    model,
    fold,
    horizon_days,
    n_forecasts,
    mae as mae_pct,
    mase,
    fit_seconds,
    cast(train_end_date as date) as train_end_date
from {{ ref('int_forecast_cv_folds') }}
