"""Expanding-window time-series CV on the training part (before the holdout)."""

import json

from capacity_forecaster.forecasting.pipeline import cv_folds


def model(dbt, session):
    dbt.config(materialized="table")
    return cv_folds(
        dbt.ref("int_daily_features_computed").to_arrow_table(),
        dbt.ref("stg_raw__servers").to_arrow_table(),
        dbt.ref("int_calendar_days_generated").to_arrow_table(),
        dbt.config.get("forecast_settings"),
        json.loads(dbt.config.get("cv_models")),
    )
