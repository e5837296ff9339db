-- The thresholds in force per archetype x metric (seed overrides, else the vars), public so the
-- report and BI tools compare against the same numbers the risk rules use.
select
    archetype,
    metric,
    override_reason,
    cast(high_risk_threshold_pct as double) as high_risk_threshold_pct,
    cast(very_high_risk_threshold_pct as double) as very_high_risk_threshold_pct,
    cast(underutilized_threshold_pct as double) as underutilized_threshold_pct,
    cast(consolidation_peak_ceiling_pct as double) as consolidation_peak_ceiling_pct,
    is_overridden
from {{ ref('int_risk_thresholds_resolved') }}
