"""Training step (only in a training run): fit the models that can matter (where they are
champions) at the origin, save them under model_artifacts/<run_id>/ and append their
registry rows. An append-only registry that --full-refresh keeps."""

from capacity_forecaster.forecasting.pipeline import train_models
from capacity_forecaster.forecasting.shared_panel import shared_panel
from capacity_forecaster.runs.artifacts import artifact_root_for


def model(dbt, session):
    panel = shared_panel(
        dbt.ref("int_daily_features_computed"),
        dbt.ref("stg_raw__servers"),
        dbt.ref("int_calendar_days_generated"),
    )
    dbt.ref("int_forecast_cv_folds")  # ordering only: the run's CV is done before it registers
    return train_models(
        panel,
        dbt.ref("int_forecast_runs_decided").df(),
        dbt.ref("int_forecast_champions_selected").df(),
        dbt.config.get("forecast_settings"),
        artifact_root_for(session),
    )
