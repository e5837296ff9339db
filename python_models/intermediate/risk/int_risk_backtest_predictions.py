"""The breach-probability model judged at past origins it did not train on (temporal on long
histories, server folds on short ones). Feeds the calibration backtest mart."""

from capacity_forecaster.risk.pipeline import risk_backtest_predictions


def model(dbt, session):
    dbt.config(materialized="table")
    return risk_backtest_predictions(
        dbt.ref("int_daily_features_computed").to_arrow_table(),
        dbt.ref("stg_raw__servers").to_arrow_table(),
        dbt.ref("int_calendar_days_generated").to_arrow_table(),
        dbt.ref("int_risk_thresholds_resolved").to_arrow_table(),
        dbt.config.get("risk_settings"),
    )
