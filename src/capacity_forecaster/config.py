"""Project configuration: the `vars:` block of dbt_project.yml is the single source of truth.

The Python side (generator, S3 push, CLI) reads the same block dbt reads, applies per-run
overrides, and validates anything that may reach SQL or a bucket name.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

PROJECT_FILE = "dbt_project.yml"

_BUCKET_RE = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX_RE = re.compile(r"^[A-Za-z0-9!_.*'()/-]*$")
_SAFE_PATH_RE = re.compile(r"^[A-Za-z0-9_./:@=+-]+$")


class ConfigError(ValueError):
    """A configuration value is missing or unsafe."""


def find_project_dir(start: Path | None = None) -> Path:
    """Walk up from `start` (default: cwd) to the folder holding dbt_project.yml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    raise ConfigError(f"no {PROJECT_FILE} found in {here} or any parent folder")


def load_vars(project_dir: Path | None = None, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the project vars with `overrides` applied on top (shallow, per key)."""
    project_dir = project_dir or find_project_dir()
    with open(project_dir / PROJECT_FILE, encoding="utf-8") as fh:
        project = yaml.safe_load(fh)
    values = copy.deepcopy(project.get("vars") or {})
    for key, value in (overrides or {}).items():
        if key not in values:
            raise ConfigError(f"unknown var {key!r}; known vars: {', '.join(sorted(values))}")
        values[key] = value
    validate_vars(values)
    return values


def parse_vars_arg(text: str | None) -> dict[str, Any]:
    """Parse a `--vars` argument (YAML or JSON mapping), as dbt does."""
    if not text:
        return {}
    parsed = yaml.safe_load(text)
    if not isinstance(parsed, dict):
        raise ConfigError(f"--vars must be a mapping, got: {text!r}")
    return parsed


def validate_bucket(name: str) -> str:
    if not isinstance(name, str) or not _BUCKET_RE.match(name):
        raise ConfigError(
            f"invalid S3 bucket name {name!r}: 3-63 chars of lowercase letters, digits, '.', '-'"
        )
    return name


def validate_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not _PREFIX_RE.match(prefix) or ".." in prefix:
        raise ConfigError(f"invalid S3 prefix {prefix!r}: use letters, digits and / _ . - only")
    return prefix.strip("/")


def validate_location(location: str, name: str = "raw_root") -> str:
    """A path or s3:// URL that is interpolated into SQL must not carry quotes or SQL."""
    if not isinstance(location, str) or not _SAFE_PATH_RE.match(location):
        raise ConfigError(
            f"invalid {name} {location!r}: only letters, digits and _ . / : @ = + - are allowed"
        )
    if location.startswith("s3://"):
        bucket, _, prefix = location[5:].partition("/")
        validate_bucket(bucket)
        validate_prefix(prefix)
    return location.rstrip("/")


def _require_number(values: Mapping[str, Any], key: str, lo: float, hi: float) -> None:
    value = values.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise ConfigError(f"var {key}={value!r} must be a number in [{lo}, {hi}]")


def validate_vars(values: Mapping[str, Any]) -> None:
    """Reject values that would be unsafe or meaningless before they reach SQL or S3."""
    validate_location(values["raw_root"], "raw_root")
    validate_location(values["truth_root"], "truth_root")
    validate_bucket(values["s3_bucket"])
    validate_prefix(values["s3_prefix"])
    for key in ("feature_lags", "rolling_windows"):
        items = values[key]
        if not items or not all(isinstance(i, int) and 1 <= i <= 366 for i in items):
            raise ConfigError(f"var {key}={items!r} must be a non-empty list of ints in 1..366")
    for key, lo, hi in (
        ("min_daily_coverage", 0, 1),
        ("quarter_end_window_days", 0, 31),
        ("late_data_lookback_days", 0, 365),
        ("future_timestamp_tolerance_hours", 0, 168),
        ("business_hours_start", 0, 23),
        ("business_hours_end", 1, 24),
        ("high_risk_threshold", 0, 100),
        ("very_high_risk_threshold", 0, 100),
        ("underutilized_threshold", 0, 100),
        ("consolidation_peak_ceiling", 0, 100),
        ("holdout_fraction", 0.05, 0.5),
        ("forecast_horizon_days", 1, 366),
        ("min_history_days", 1, 3650),
    ):
        _require_number(values, key, lo, hi)
    for day in values["holidays"]:
        if not isinstance(day, str) or not re.fullmatch(r"(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", day):
            raise ConfigError(f"holiday {day!r} must be MM-DD")
    for metric in values["metrics"]:
        if not isinstance(metric, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", metric):
            raise ConfigError(f"metric name {metric!r} must be a lowercase identifier")
    if values["very_high_risk_threshold"] < values["high_risk_threshold"]:
        raise ConfigError("very_high_risk_threshold must be >= high_risk_threshold")
