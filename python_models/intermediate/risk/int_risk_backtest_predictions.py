"""The breach-probability model judged at past origins it did not train on (temporal on long
histories, server folds on short ones), computed by a training run and kept by the builds
that reuse it. Feeds the calibration backtest mart."""

from capacity_forecaster.forecasting.shared_panel import shared_panel
from capacity_forecaster.runs.artifacts import artifact_root_for
from capacity_forecaster.runs.risk import backtest_predictions


def model(dbt, session):
    panel = shared_panel(
        dbt.ref("int_daily_features_computed"),
        dbt.ref("stg_raw__servers"),
        dbt.ref("int_calendar_days_generated"),
    )
    return backtest_predictions(
        panel,
        dbt.ref("int_risk_runs_decided").df(),
        dbt.ref("int_risk_thresholds_resolved").df(),
        dbt.config.get("risk_settings"),
        artifact_root_for(session),
    )
