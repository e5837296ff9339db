{{ config(contract={'enforced': server_summary_contract_enforced()}) }}
-- One row per live server (inventory, not decommissioned): who owns it, its size, and per
-- metric (var metrics, wide columns) its current P95, risk state and class, breach
-- probability and the capacity to add; for the server its worst state, since when it breaches
-- or when it will first likely cross.
--
-- Risk columns use the planning window, the longest of var risk_windows (90 days by
-- default): breaching_now does not depend on the window, and a forecast breach within 30
-- days is one within 90 days whose first likely crossing is at most 30 days out.
--
-- Capacity to add (at-risk metrics only: breaching_now or forecast_breach; 0 otherwise):
--   peak  = the var capacity_sizing_percentile (90th) percentile of the window maximum of the
--           daily P95, read off fct_breach_probabilities: where P(max > x) falls to
--           1 - percentile / 100, interpolated linearly between the two grid thresholds around
--           it; never below today's P95 for a series breaching now; 100 when even the top of
--           the grid is exceeded more often than that (the data are capped at 100 %);
--   add   = size x (peak / high threshold - 1), so that peak lands on the high threshold;
--           add_pct is the same as a percentage of today's capacity.
-- A series saturated at 100 % (today, in the last 90 days, or at its peak) hides its true
-- demand: the add is a lower bound (is_add_lower_bound).
{%- set window = var('risk_windows') | max %}
{%- set exceedance = (100 - var('capacity_sizing_percentile')) / 100 %}

with

servers as (

    select * from {{ ref('stg_raw__servers') }}
    where decommissioned_date is null

),

risk as (

    select * from {{ ref('fct_capacity_risk') }}
    where window_days = {{ window }}

),

server_risk as (

    select * from {{ ref('fct_server_risk') }}
    where window_days = {{ window }}

),

grid as (

    select server_id, metric, threshold_pct, probability
    from {{ ref('fct_breach_probabilities') }}
    where window_days = {{ window }}

),

above as (

    -- the smallest threshold the window maximum exceeds with probability <= 1 - percentile
    select server_id, metric, min(threshold_pct) as above_pct
    from grid
    where probability <= {{ exceedance }}
    group by server_id, metric

),

grid_bracketed as (

    select
        grid.*,
        above.above_pct,
        grid.probability > {{ exceedance }} and grid.threshold_pct < coalesce(above.above_pct, 101)
            as is_below
    from grid
    left join above
        on grid.server_id = above.server_id and grid.metric = above.metric

),

bracket as (

    -- the two grid thresholds around the percentile: the largest still exceeded too often,
    -- and the smallest exceeded rarely enough
    select
        server_id,
        metric,
        above_pct,
        max(probability) filter (where threshold_pct = above_pct) as above_probability,
        max(threshold_pct) filter (where is_below) as below_pct,
        arg_max(probability, threshold_pct) filter (where is_below) as below_probability
    from grid_bracketed
    group by server_id, metric, above_pct

),

peaks as (

    select
        server_id,
        metric,
        case
            when above_pct is null then 100.0
            when below_pct is null then above_pct
            else
                below_pct
                + (above_pct - below_pct) * (below_probability - {{ exceedance }})
                / (below_probability - above_probability)
        end as grid_peak_pct
    from bracket

),

sized as (

    select
        risk.server_id,
        risk.metric,
        risk.risk_state,
        risk.risk_class,
        risk.current_p95_pct,
        risk.p_breach_high,
        risk.high_risk_threshold_pct,
        risk.breaching_since_date,
        risk.first_likely_breach_date,
        risk.risk_state in ('breaching_now', 'forecast_breach') as is_at_risk,
        round(case
            when risk.risk_state = 'breaching_now' then greatest(peaks.grid_peak_pct, risk.current_p95_pct)
            else peaks.grid_peak_pct
        end, 2) as sizing_peak_pct,
        coalesce(risk.current_p95_pct >= 100, false) or coalesce(risk.max_90d_p95_pct >= 100, false)
        or coalesce(peaks.grid_peak_pct >= 100, false) as is_saturated
    from risk
    left join peaks
        on risk.server_id = peaks.server_id and risk.metric = peaks.metric

),

per_metric as (

    select
        *,
        case
            when not is_at_risk then 0.0
            else round(greatest(0.0, 100 * (sizing_peak_pct / nullif(high_risk_threshold_pct, 0) - 1)), 2)
        end as add_pct,
        is_at_risk and is_saturated as is_add_lower_bound
    from sized

),

per_metric_units as (

    select
        per_metric.*,
        {{ capacity_add_in_units() }}
    from per_metric
    inner join servers
        on per_metric.server_id = servers.server_id

),

wide as (

    select
        server_id,
        {%- for metric in var('metrics') %}
        {{ server_summary_metric_columns(metric) }},
        {%- endfor %}
        count(*) filter (where is_at_risk) as metrics_at_risk,
        string_agg(metric, ', ' order by metric) filter (where is_at_risk) as at_risk_metrics,
        bool_or(is_add_lower_bound) as is_any_add_lower_bound,
        min(breaching_since_date) as breaching_since_date,
        min(first_likely_breach_date) as first_likely_breach_date
    from per_metric_units
    group by server_id

),

final as (

    select
        servers.server_id,
        servers.owner,
        servers.business_unit,
        servers.environment,
        servers.archetype,
        servers.instance_type,
        servers.region,
        server_risk.risk_class as worst_risk_class,
        server_risk.risk_state as worst_risk_state,
        server_risk.driving_metric,
        server_risk.recommended_action,
        wide.at_risk_metrics,
        servers.vcpus,
        servers.memory_gb,
        servers.disk_mbps,
        servers.network_mbps,
        cast({{ window }} as integer) as risk_window_days,
        coalesce(server_risk.metrics_assessed, 0) as metrics_assessed,
        coalesce(wide.metrics_at_risk, 0) as metrics_at_risk,
        datediff('day', server_risk.origin_date, wide.first_likely_breach_date) as days_to_breach,
        server_risk.p_breach_high as driving_p_breach_high,
        {%- for metric in var('metrics') %}
        {%- for column in ['current_p95_pct', 'risk_state', 'risk_class', 'p_breach_high',
                           'sizing_peak_pct', 'add_pct'] %}
        wide.{{ metric }}_{{ column }},
        {%- endfor %}
        {%- if metric in capacity_units() %}
        wide.{{ metric }}_add_{{ capacity_units()[metric]['unit'] }},
        {%- endif %}
        wide.{{ metric }}_is_add_lower_bound,
        wide.{{ metric }}_breaching_since_date,
        wide.{{ metric }}_first_likely_breach_date,
        {%- endfor %}
        servers.is_size_known,
        coalesce(wide.is_any_add_lower_bound, false) as is_any_add_lower_bound,
        coalesce(server_risk.is_low_confidence, false) as is_low_confidence,
        server_risk.origin_date,
        wide.breaching_since_date,
        wide.first_likely_breach_date

    from servers
    left join server_risk on servers.server_id = server_risk.server_id
    left join wide on servers.server_id = wide.server_id

)

select * from final
