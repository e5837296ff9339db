"""Rolling-origin backtest over the holdout: every enabled model x series x origin x horizon,
with leave-one-origin-out conformal bounds. Logic: capacity_forecaster.forecasting."""

from capacity_forecaster.forecasting.pipeline import backtest_predictions


def model(dbt, session):
    dbt.config(materialized="table")
    # Refs stay literal in each model: dbt finds dependencies by parsing these calls.
    # to_arrow_table(): Arrow, not pandas, and fully read before the next ref is queried.
    return backtest_predictions(
        dbt.ref("int_daily_features_computed").to_arrow_table(),
        dbt.ref("stg_raw__servers").to_arrow_table(),
        dbt.ref("int_calendar_days_generated").to_arrow_table(),
        dbt.config.get("forecast_settings"),
    )
