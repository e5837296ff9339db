"""Forecasting core: baselines, Prophet, tree models, conformal intervals, backtests.

dbt Python models (python_models/intermediate/forecasting/) only read refs and call into here.
"""
