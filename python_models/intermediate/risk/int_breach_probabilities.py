"""P(the largest daily P95 of the next W days > x) for every live series, configured window
and threshold (the public grid plus the resolved thresholds), with likely crossing days, at
today's origin from the stored classifier of the training run in use.
Logic: capacity_forecaster.risk (model), capacity_forecaster.runs.risk (cadence)."""

from capacity_forecaster.forecasting.shared_panel import shared_panel
from capacity_forecaster.runs.artifacts import artifact_root_for
from capacity_forecaster.runs.risk import breach_probabilities


def model(dbt, session):
    panel = shared_panel(
        dbt.ref("int_daily_features_computed"),
        dbt.ref("stg_raw__servers"),
        dbt.ref("int_calendar_days_generated"),
    )
    dbt.ref("int_risk_models_trained")  # ordering only: the classifier is the run's artifact
    return breach_probabilities(
        panel,
        dbt.ref("int_risk_runs_decided").df(),
        dbt.ref("int_risk_thresholds_resolved").df(),
        dbt.config.get("risk_settings"),
        artifact_root_for(session),
    )
