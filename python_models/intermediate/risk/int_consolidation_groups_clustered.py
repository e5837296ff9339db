"""Consolidation groups of underutilized servers (K-Means on intraday profiles), sized where
the inventory knows the servers' sizes. Logic: capacity_forecaster.consolidation.
Published through fct_consolidation_groups (SQL), which carries the enforced contract
(dbt does not enforce contracts on Python models)."""

from capacity_forecaster.consolidation import consolidation_groups


def model(dbt, session):
    dbt.config(materialized="table")
    return consolidation_groups(
        dbt.ref("fct_server_risk").to_arrow_table(),
        dbt.ref("int_hourly_profiles_aggregated").to_arrow_table(),
        dbt.ref("stg_raw__servers").to_arrow_table(),
        ceiling_pct=float(dbt.config.get("consolidation_peak_ceiling")),
        window_days=int(dbt.config.get("consolidation_window_days")),
        seed=int(dbt.config.get("seed")),
    )
