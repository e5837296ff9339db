-- The forecast to use, one row per live server x metric x forecast day: the is_champion rows
-- of fct_forecasts with their intervals, so BI tools need no filter to avoid double counting.
-- A column added to fct_forecasts fails this model's contract until it is declared here too.
select * exclude (is_champion)
from {{ ref('fct_forecasts') }}
where is_champion
