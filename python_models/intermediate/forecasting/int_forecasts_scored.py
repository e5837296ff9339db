"""Scoring step: forecasts 1..H days ahead from the latest registered models, with conformal
intervals from the backtest residuals."""

from capacity_forecaster.forecasting.pipeline import score_forecasts


def model(dbt, session):
    dbt.config(materialized="table")
    return score_forecasts(
        dbt.ref("int_daily_features_computed").to_arrow_table(),
        dbt.ref("stg_raw__servers").to_arrow_table(),
        dbt.ref("int_calendar_days_generated").to_arrow_table(),
        dbt.ref("int_forecast_models_trained").to_arrow_table(),
        dbt.ref("int_forecast_backtest_predictions").to_arrow_table(),
        dbt.config.get("forecast_settings"),
    )
