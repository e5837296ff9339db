"""Static HTML capacity report and data-validation page (Jinja2, inline SVG, no network)."""

from capacity_forecaster.report.build import render_report

__all__ = ["render_report"]
