"""Training cadence of the breach-probability model: retrain, or reuse the registered run,
and why (capacity_forecaster.runs.cadence). An append-only log that --full-refresh keeps."""

from capacity_forecaster.forecasting.shared_panel import shared_panel
from capacity_forecaster.runs.artifacts import artifact_root_for
from capacity_forecaster.runs.decisions import decide_training_run


def model(dbt, session):
    # Refs stay literal in each model: dbt finds dependencies by parsing these calls.
    panel = shared_panel(
        dbt.ref("int_daily_features_computed"),
        dbt.ref("stg_raw__servers"),
        dbt.ref("int_calendar_days_generated"),
    )
    history = session.sql(f"select * from {dbt.this}").df() if dbt.is_incremental else None
    return decide_training_run(
        "risk",
        panel,
        history,
        dbt.config.get("risk_settings"),
        dbt.config.get("cadence_settings"),
        artifact_root_for(session),
        thresholds=dbt.ref("int_risk_thresholds_resolved").df(),
    )
