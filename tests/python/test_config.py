from __future__ import annotations

import pytest
import yaml
from conftest import PROJECT_DIR

from capacity_forecaster.config import (
    PROJECT_FILE,
    ConfigError,
    load_vars,
    parse_vars_arg,
    validate_bucket,
    validate_location,
)


def test_values_are_read_from_the_project_file(tmp_path):
    project = yaml.safe_load((PROJECT_DIR / PROJECT_FILE).read_text())
    project["vars"]["fleet_servers"] = 33
    (tmp_path / PROJECT_FILE).write_text(yaml.safe_dump(project))
    values = load_vars(tmp_path)
    assert values["fleet_servers"] == 33
    assert values["metrics"] == project["vars"]["metrics"]


def test_project_dir_is_found_from_a_subfolder(monkeypatch, tmp_path):
    monkeypatch.chdir(PROJECT_DIR / "models" / "staging")
    assert load_vars() == load_vars(PROJECT_DIR)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"no dbt_project\.yml"):
        load_vars()


def test_override_replaces_only_its_key():
    defaults = load_vars(PROJECT_DIR)
    models = {"seasonal_naive": {"enabled": True}}
    values = load_vars(PROJECT_DIR, {"fleet_servers": 7, "forecast_models": models})
    assert values["fleet_servers"] == 7
    assert values["forecast_models"] == models  # a mapping is replaced whole, as dbt --vars does
    assert {k: v for k, v in values.items() if k not in ("fleet_servers", "forecast_models")} == {
        k: v for k, v in defaults.items() if k not in ("fleet_servers", "forecast_models")
    }
    assert load_vars(PROJECT_DIR) == defaults  # an override never leaks into the next load


def test_unknown_var_is_refused_by_name():
    with pytest.raises(ConfigError, match="unknown var 'fleet_server'"):
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{raw_root: s3://b/p}", {"raw_root": "s3://b/p"}),
        ('{"fleet_servers": 7, "holidays": ["01-01"]}', {"fleet_servers": 7, "holidays": ["01-01"]}),
        ("", {}),
        (None, {}),
    ],
)
def test_vars_argument_parses_yaml_or_json(text, expected):
    assert parse_vars_arg(text) == expected


@pytest.mark.parametrize("text", ["[1, 2]", "just text", "7"])
def test_vars_argument_must_be_a_mapping(text):
    with pytest.raises(ConfigError, match="must be a mapping"):
        parse_vars_arg(text)


def test_vars_argument_feeds_load_vars():
    assert load_vars(PROJECT_DIR, parse_vars_arg("{fleet_seed: 3}"))["fleet_seed"] == 3


def test_inconsistent_thresholds_rejected():
    with pytest.raises(ConfigError, match="very_high"):
        load_vars(PROJECT_DIR, {"very_high_risk_threshold": 70.0})
