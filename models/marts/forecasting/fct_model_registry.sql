-- What was trained, on which window, with which parameters, when, and where the artifact is.
select
    run_id,
    model,
    scopes,
    params_json,
    cast(artifact_path as varchar) as artifact_path,  -- NULL for every model without an artifact
    cast(artifact_sha256 as varchar) as artifact_sha256,
    series_count,
    rows_used,
    fit_seconds,
    cast(train_start_date as date) as train_start_date,
    cast(train_end_date as date) as train_end_date,
    trained_at
from {{ ref('int_forecast_models_trained') }}
