-- Every training run's champion choice per archetype x metric x horizon bucket, oldest first:
-- which model was of record, what challenged it, and why it stayed or was replaced. Read
-- from the append-only int_forecast_champions_selected, which --full-refresh keeps.
select
    run_id,
    archetype,
    metric,
    horizon_bucket,
    champion_model,
    previous_champion_model,
    challenger_model,
    runner_up_model,
    champion_validation_ratio,
    challenger_ratio,
    previous_champion_ratio,
    is_champion_changed,
    selection_reason,
    selected_at
from {{ ref('int_forecast_champions_selected') }}
