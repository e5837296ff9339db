-- One row per build x component (forecast models, breach-probability model): whether the
-- build refitted (retrain) or scored with the registered run (reuse), and every reason.
with

decisions as (

    select * from {{ ref('int_forecast_runs_decided') }}
    union all by name
    select * from {{ ref('int_risk_runs_decided') }}

)

select
    decision_id,
    component,
    decision,
    reason,
    run_id,
    previous_run_id,
    config_sha256,
    data_fingerprint_sha256,
    pruned_run_ids,
    series_count,
    cast(train_start_date as date) as data_start_date,
    cast(origin_date as date) as origin_date,
    decided_at
from decisions
