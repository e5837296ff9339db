-- How good are the breach probabilities where the outcome is known and the model did not see
-- it (int_risk_backtest_predictions)? Per window x class x population:
--   * the flags at var breach_probability_cutoff: precision, recall, lead time;
--   * the same for the naive rule "some daily P95 above the threshold in the last 7 days";
--   * the Brier score of the probabilities, and of the naive rule turned into a frequency
--     (the observed breach rate among rule-flagged and among unflagged rows), with the skill
--     1 - Brier / rule Brier;
--   * a reliability table: probability_bin rows give the mean predicted probability and the
--     observed frequency in each tenth; probability_bin = 'all' holds the summary.
-- Populations: 'all', and 'not_over_last_7d' (series not above the threshold in the 7 days
-- up to the origin: true early warnings, where the naive rule cannot fire).
with

predictions as (

    select
        * replace (cast(window_days as integer) as window_days),
        case threshold_role
            when 'high' then 'high_risk'
            when 'very_high' then 'very_high_risk'
        end as risk_class,
        probability >= {{ var('breach_probability_cutoff') }} as is_flagged
    from {{ ref('int_risk_backtest_predictions') }}
    where threshold_role in ('high', 'very_high')

),

populations as (

    select 'all' as population, * from predictions
    union all
    select 'not_over_last_7d' as population, * from predictions
    where not was_over_last_7d

),

rule_frequency as (

    -- the naive rule as a probability: the breach rate among rows it flags / does not flag
    select
        population,
        risk_class,
        window_days,
        was_over_last_7d,
        avg(cast(did_exceed as double)) as rule_probability
    from populations
    group by all

),

scored as (

    select
        populations.*,
        rule_frequency.rule_probability,
        case
            when populations.probability >= 1 then '0.9-1.0'
            else printf(
                '%.1f-%.1f', floor(populations.probability * 10) / 10,
                floor(populations.probability * 10) / 10 + 0.1
            )
        end as probability_bin
    from populations
    inner join rule_frequency using (population, risk_class, window_days, was_over_last_7d)

),

summary as (

    select
        population,
        risk_class,
        window_days,
        'all' as probability_bin,
        any_value(validation_scheme) as validation_scheme,
        count(*) as n_series_origins,
        count(distinct origin_date) as n_origins,
        avg(probability) as mean_probability,
        avg(cast(did_exceed as double)) as observed_frequency,
        count(*) filter (where is_flagged and did_exceed) as true_positives,
        count(*) filter (where is_flagged and not did_exceed) as false_positives,
        count(*) filter (where not is_flagged and did_exceed) as false_negatives,
        count(*) filter (where not is_flagged and not did_exceed) as true_negatives,
        count(*) filter (where was_over_last_7d and did_exceed) as rule_true_positives,
        count(*) filter (where was_over_last_7d and not did_exceed) as rule_false_positives,
        count(*) filter (where not was_over_last_7d and did_exceed) as rule_false_negatives,
        median(actual_first_day) filter (where is_flagged and did_exceed) as median_lead_time_days,
        avg(power(probability - cast(did_exceed as double), 2)) as brier_score,
        avg(power(rule_probability - cast(did_exceed as double), 2)) as rule_brier_score
    from scored
    group by population, risk_class, window_days

),

bins as (

    select
        population,
        risk_class,
        window_days,
        probability_bin,
        any_value(validation_scheme) as validation_scheme,
        count(*) as n_series_origins,
        count(distinct origin_date) as n_origins,
        avg(probability) as mean_probability,
        avg(cast(did_exceed as double)) as observed_frequency
    from scored
    group by population, risk_class, window_days, probability_bin

),

final as (

    select
        population,
        risk_class,
        window_days,
        probability_bin,
        validation_scheme,
        n_series_origins,
        n_origins,
        mean_probability,
        observed_frequency,
        true_positives,
        false_positives,
        false_negatives,
        true_negatives,
        true_positives / nullif(true_positives + false_positives, 0) as precision,
        true_positives / nullif(true_positives + false_negatives, 0) as recall,
        rule_true_positives / nullif(rule_true_positives + rule_false_positives, 0) as rule_precision,
        rule_true_positives / nullif(rule_true_positives + rule_false_negatives, 0) as rule_recall,
        median_lead_time_days,
        brier_score,
        rule_brier_score,
        1 - brier_score / nullif(rule_brier_score, 0) as brier_skill_vs_rule,
        cast({{ var('breach_probability_cutoff') }} as double) as breach_probability_cutoff
    from summary

    union all by name

    select * from bins

)

select * from final
