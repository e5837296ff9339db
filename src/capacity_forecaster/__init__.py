"""Capacity Forecaster: synthetic fleet, S3 landing, forecasting core and report."""

__version__ = "0.1.0"
