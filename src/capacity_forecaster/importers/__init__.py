"""Importers that turn real monitoring data into the raw data contract."""
