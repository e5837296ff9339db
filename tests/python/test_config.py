from __future__ import annotations

import pytest
from conftest import PROJECT_DIR

from capacity_forecaster.config import (
    ConfigError,
    load_vars,
    parse_vars_arg,
    validate_bucket,
    validate_location,
)


def test_defaults_come_from_dbt_project_vars():
    values = load_vars(PROJECT_DIR)
    assert values["feature_lags"] == [1, 7, 30]
    assert values["rolling_windows"] == [7, 14, 30]
    assert values["high_risk_threshold"] == 80.0
    assert values["forecast_models"]["random_forest"] == {
        "enabled": True,
        "n_estimators": 200,
        "max_depth": 10,
    }


def test_override_applies_and_unknown_var_rejected():
    assert load_vars(PROJECT_DIR, {"fleet_servers": 7})["fleet_servers"] == 7
    with pytest.raises(ConfigError, match="unknown var"):
        load_vars(PROJECT_DIR, {"fleet_server": 7})


@pytest.mark.parametrize(
    "location",
    ["data/raw'; drop table x; --", "s3://Bad_Bucket/x", "s3://b/../etc", "a b", 'x"y'],
)
def test_unsafe_locations_rejected(location):
    with pytest.raises(ConfigError):
        validate_location(location)


@pytest.mark.parametrize("bucket", ["ab", "UPPER", "-lead", "a..b", "x" * 64])
def test_bad_bucket_names_rejected(bucket):
    with pytest.raises(ConfigError):
        validate_bucket(bucket)


def test_vars_argument_must_be_mapping():
    assert parse_vars_arg("{raw_root: s3://b/p}") == {"raw_root": "s3://b/p"}
    with pytest.raises(ConfigError):
        parse_vars_arg("[1, 2]")


def test_inconsistent_thresholds_rejected():
    with pytest.raises(ConfigError, match="very_high"):
        load_vars(PROJECT_DIR, {"very_high_risk_threshold": 70.0})
