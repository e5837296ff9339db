"""Training step of the breach-probability model (only in a training run): fit the
classifier on labels known at the origin, save it under model_artifacts/<run_id>/ and append
its registry row. An append-only registry that --full-refresh keeps."""

from capacity_forecaster.forecasting.shared_panel import shared_panel
from capacity_forecaster.runs.artifacts import artifact_root_for
from capacity_forecaster.runs.risk import train_model


def model(dbt, session):
    panel = shared_panel(
        dbt.ref("int_daily_features_computed"),
        dbt.ref("stg_raw__servers"),
        dbt.ref("int_calendar_days_generated"),
    )
    dbt.ref("int_risk_backtest_predictions")  # ordering only: the registry records its time
    return train_model(
        panel,
        dbt.ref("int_risk_runs_decided").df(),
        dbt.ref("int_risk_thresholds_resolved").df(),
        dbt.config.get("risk_settings"),
        artifact_root_for(session),
    )
