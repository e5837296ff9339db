"""P(the largest daily P95 of the next W days > x) for every live series, configured window
and threshold (the public grid plus the resolved thresholds), with likely crossing days.
Logic: capacity_forecaster.risk."""

from capacity_forecaster.risk.pipeline import breach_probabilities


def model(dbt, session):
    dbt.config(materialized="table")
    # Refs stay literal in each model: dbt finds dependencies by parsing these calls.
    return breach_probabilities(
        dbt.ref("int_daily_features_computed").to_arrow_table(),
        dbt.ref("stg_raw__servers").to_arrow_table(),
        dbt.ref("int_calendar_days_generated").to_arrow_table(),
        dbt.ref("int_risk_thresholds_resolved").to_arrow_table(),
        dbt.config.get("risk_settings"),
    )
