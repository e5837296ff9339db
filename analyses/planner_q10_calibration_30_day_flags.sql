-- Planner question 10: are the 30-day flags calibrated?
-- The reliability table of fct_risk_backtest: per tenth of predicted probability, the mean
-- prediction vs the observed frequency of crossings (equal when calibrated); the 'all' row
-- holds the Brier score next to the last-7-days rule's.
select
    probability_bin,
    validation_scheme,
    n_series_origins,
    round(mean_probability, 3) as mean_probability,
    round(observed_frequency, 3) as observed_frequency,
    round(brier_score, 4) as brier_score,
    round(rule_brier_score, 4) as rule_brier_score,
    round(brier_skill_vs_rule, 3) as brier_skill_vs_rule
from {{ ref('fct_risk_backtest') }}
where window_days = 30 and risk_class = 'high_risk' and population = 'all'
order by probability_bin = 'all', probability_bin
