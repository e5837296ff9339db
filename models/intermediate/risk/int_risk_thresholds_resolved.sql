-- Risk thresholds per archetype x metric: the seed's overrides where given, else the vars.
with

archetypes as (

    select distinct archetype from {{ ref('stg_raw__servers') }}

),

metrics as (

    select unnest([{% for m in var('metrics') %}'{{ m }}'{{ ", " if not loop.last }}{% endfor %}]) as metric

),

overrides as (

    select * from {{ ref('risk_threshold_overrides') }}

),

final as (

    select
        archetypes.archetype,
        metrics.metric,
        overrides.reason as override_reason,
        coalesce(overrides.high_risk_threshold, {{ var('high_risk_threshold') }})
            as high_risk_threshold_pct,
        coalesce(overrides.very_high_risk_threshold, {{ var('very_high_risk_threshold') }})
            as very_high_risk_threshold_pct,
        coalesce(overrides.underutilized_threshold, {{ var('underutilized_threshold') }})
            as underutilized_threshold_pct,
        cast({{ var('consolidation_peak_ceiling') }} as double) as consolidation_peak_ceiling_pct,
        overrides.archetype is not null as is_overridden

    from archetypes
    cross join metrics
    left join overrides
        on archetypes.archetype = overrides.archetype and metrics.metric = overrides.metric

)

select * from final
