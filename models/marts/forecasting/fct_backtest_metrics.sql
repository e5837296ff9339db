-- Backtest accuracy of the training run in use, by model x split x metric x archetype x
-- horizon bucket x period with 'all' rollups (int_backtest_metrics_aggregated, computed once
-- per training run).
select
    run_id,
    model,
    split,
    metric,
    archetype,
    horizon_bucket,
    period,
    n_forecasts,
    n_servers,
    n_origins,
    mae_pct,
    rmse_pct,
    mape_pct,
    mase,
    bias_pct,
    mae_ratio_vs_moving_average,
    mae_ratio_vs_seasonal_naive,
    moving_average_mae_pct,
    coverage_80,
    coverage_95,
    native_coverage_80,
    native_coverage_95,
    pinball_loss
from {{ ref('int_backtest_metrics_aggregated') }}
