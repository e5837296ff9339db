-- Planner question 9: how accurate are the forecasts vs the 28-day mean, per metric and horizon?
-- The champions' errors on the test window (not used to choose them), weighted by their test
-- forecasts; a ratio below 1 beats the 28-day mean of daily P95.
select
    metric,
    horizon_bucket,
    round(sum(test_mae_pct * n_test_forecasts) / sum(n_test_forecasts), 2) as champion_mae_pts,
    round(sum(test_moving_average_mae_pct * n_test_forecasts) / sum(n_test_forecasts), 2)
        as moving_average_mae_pts,
    round(
        sum(test_mae_pct * n_test_forecasts)
        / nullif(sum(test_moving_average_mae_pct * n_test_forecasts), 0), 3
    ) as mae_ratio_vs_moving_average,
    round(sum(test_coverage_80 * n_test_forecasts) / sum(n_test_forecasts), 3) as coverage_80,
    sum(n_test_forecasts) as test_forecasts
from {{ ref('fct_forecast_champions') }}
where n_test_forecasts > 0
group by metric, horizon_bucket
order by metric, horizon_bucket
