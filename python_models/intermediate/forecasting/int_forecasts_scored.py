"""Scoring step (every build): forecasts 1..H days from today's origin with the stored models
of the training run in use, and conformal intervals from that run's backtest."""

from capacity_forecaster.forecasting.pipeline import score_forecasts
from capacity_forecaster.forecasting.shared_panel import shared_panel
from capacity_forecaster.runs.artifacts import artifact_root_for


def model(dbt, session):
    panel = shared_panel(
        dbt.ref("int_daily_features_computed"),
        dbt.ref("stg_raw__servers"),
        dbt.ref("int_calendar_days_generated"),
    )
    dbt.ref("int_forecast_backtest_predictions")  # ordering only: intervals are the run's artifact
    return score_forecasts(
        panel,
        dbt.ref("int_forecast_runs_decided").df(),
        dbt.ref("int_forecast_models_trained").df(),
        dbt.config.get("forecast_settings"),
        artifact_root_for(session),
    )
