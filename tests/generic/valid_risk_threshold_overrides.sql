{#- Rows of the per-archetype threshold seed that make no sense, with why. Checked on the
    effective values (an empty cell falls back to its var), so an override cannot turn the
    order of the thresholds upside down: 0 <= high <= very high <= 100, underutilized in
    0..100 and not above high, and the metric is one of var metrics. -#}
{% test valid_risk_threshold_overrides(model) %}
with

effective as (

    select
        archetype,
        metric,
        coalesce(high_risk_threshold, {{ var('high_risk_threshold') }}) as high_pct,
        coalesce(very_high_risk_threshold, {{ var('very_high_risk_threshold') }}) as very_high_pct,
        coalesce(underutilized_threshold, {{ var('underutilized_threshold') }}) as underutilized_pct
    from {{ model }}

),

judged as (

    select
        *,
        case
            when metric not in (
                {%- for m in var('metrics') %}'{{ m }}'{{ ", " if not loop.last }}{% endfor -%}
            ) then 'metric is not in var metrics'
            when not high_pct between 0 and 100 then 'high_risk_threshold outside 0..100'
            when not very_high_pct between 0 and 100 then 'very_high_risk_threshold outside 0..100'
            when very_high_pct < high_pct then 'very_high_risk_threshold below high_risk_threshold'
            when not underutilized_pct between 0 and 100 then 'underutilized_threshold outside 0..100'
            when underutilized_pct > high_pct then 'underutilized_threshold above high_risk_threshold'
        end as problem
    from effective

)

select * from judged where problem is not null
{% endtest %}
