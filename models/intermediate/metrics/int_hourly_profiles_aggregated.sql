-- Intraday profile per server x metric x hour of day over the most recent 28 days: which
-- hours carry the load, and how much of it falls in business hours.
with

recent as (

    select server_id, metric, metric_value_pct, hour(measured_at) as hour_of_day
    from {{ ref('int_measurements_gated') }}
    where quarantine_reason is null
      and partition_date > (select max(partition_date) from {{ ref('int_measurements_gated') }})
          - interval 28 day

),

profiled as (

    select
        server_id,
        metric,
        hour_of_day,
        avg(metric_value_pct) as mean_pct,
        quantile_cont(metric_value_pct, 0.95) as p95_pct,
        count(*) as hours_observed,
        hour_of_day >= {{ var('business_hours_start') }}
            and hour_of_day < {{ var('business_hours_end') }} as is_business_hour

    from recent
    group by server_id, metric, hour_of_day

)

select * from profiled
