"""Training step: fit every enabled model on all history, save artifacts next to the
warehouse file, and return the registry (what, on which window, with which params, when)."""

from capacity_forecaster.forecasting.pipeline import artifact_root_for, train_models


def model(dbt, session):
    dbt.config(materialized="table")
    return train_models(
        dbt.ref("int_daily_features_computed").to_arrow_table(),
        dbt.ref("stg_raw__servers").to_arrow_table(),
        dbt.ref("int_calendar_days_generated").to_arrow_table(),
        dbt.config.get("forecast_settings"),
        artifact_root_for(session),
    )
