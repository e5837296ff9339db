-- Planner question 11: which flags changed since the last run?
-- The two latest runs in fct_risk_history (planning window): new, cleared, escalated (class
-- or state worse) or eased flags. Nothing while only one run is recorded.
with

runs as (

    select
        run_id,
        max(recorded_at) as recorded_at,
        row_number() over (order by max(recorded_at) desc) as run_rank
    from {{ ref('fct_risk_history') }}
    group by run_id

),

planning_window as (

    select max(window_days) as window_days from {{ ref('fct_risk_history') }}

),

flags as (

    select
        history.server_id,
        runs.run_rank,
        history.risk_class,
        history.risk_state,
        history.driving_metric,
        history.risk_class in ('high_risk', 'very_high_risk') as is_at_risk,
        {{ risk_severity('history.risk_class') }} * 10 + {{ risk_state_severity('history.risk_state') }}
            as severity
    from {{ ref('fct_risk_history') }} as history
    inner join runs on history.run_id = runs.run_id
    inner join planning_window on history.window_days = planning_window.window_days
    where runs.run_rank <= 2

),

current_run as (

    select * from flags
    where run_rank = 1

),

previous_run as (

    select * from flags
    where run_rank = 2

),

compared as (

    select
        coalesce(now.server_id, before.server_id) as server_id,
        before.risk_class as previous_class,
        before.risk_state as previous_state,
        now.risk_class as current_class,
        now.risk_state as current_state,
        now.driving_metric,
        case
            when coalesce(now.is_at_risk, false) and not coalesce(before.is_at_risk, false) then 'new'
            when coalesce(before.is_at_risk, false) and not coalesce(now.is_at_risk, false) then 'cleared'
            when now.is_at_risk and now.severity > before.severity then 'escalated'
            when now.is_at_risk and now.severity < before.severity then 'eased'
        end as change
    from current_run as now
    full outer join previous_run as before
        on now.server_id = before.server_id

),

run_count as (

    select count(*) as runs from runs

)

select compared.*
from compared
cross join run_count
where compared.change is not null and run_count.runs >= 2
order by compared.change, compared.server_id
