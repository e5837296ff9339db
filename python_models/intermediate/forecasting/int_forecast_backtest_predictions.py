"""Rolling-origin backtest over the holdout: every enabled model x series x origin x horizon,
with leave-one-origin-out conformal bounds, for the training run in use (computed by a
training run, kept as is by the builds that reuse it). Logic: capacity_forecaster.forecasting."""

from capacity_forecaster.forecasting.pipeline import backtest_predictions
from capacity_forecaster.forecasting.shared_panel import shared_panel
from capacity_forecaster.runs.artifacts import artifact_root_for


def model(dbt, session):
    panel = shared_panel(
        dbt.ref("int_daily_features_computed"),
        dbt.ref("stg_raw__servers"),
        dbt.ref("int_calendar_days_generated"),
    )
    held = set()
    if dbt.is_incremental:  # the run already in the table is not written again
        held = {row[0] for row in session.sql(f"select distinct run_id from {dbt.this}").fetchall()}
    return backtest_predictions(
        panel,
        dbt.ref("int_forecast_runs_decided").df(),
        dbt.config.get("forecast_settings"),
        artifact_root_for(session),
        held,
    )
