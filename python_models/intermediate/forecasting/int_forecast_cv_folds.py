"""Expanding-window time-series CV on the training part (before the holdout), of the
training run in use."""

import json

from capacity_forecaster.forecasting.pipeline import cv_folds
from capacity_forecaster.forecasting.shared_panel import shared_panel
from capacity_forecaster.runs.artifacts import artifact_root_for


def model(dbt, session):
    panel = shared_panel(
        dbt.ref("int_daily_features_computed"),
        dbt.ref("stg_raw__servers"),
        dbt.ref("int_calendar_days_generated"),
    )
    return cv_folds(
        panel,
        dbt.ref("int_forecast_runs_decided").df(),
        dbt.config.get("forecast_settings"),
        json.loads(dbt.config.get("cv_models")),
        artifact_root_for(session),
    )
