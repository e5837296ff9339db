"""Synthetic fleet generator: hourly metrics in the raw data contract, plus hidden truth."""

from capacity_forecaster.generator.fleet import FleetSpec, generate_fleet

__all__ = ["FleetSpec", "generate_fleet"]
