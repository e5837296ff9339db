"""Var rules: one implementation (macros/validate_project_vars.sql) for capfc and dbt alike."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess

import pytest
import yaml
from conftest import BIN, PROJECT_DIR, isolated_env

from capacity_forecaster.config import (
    PROJECT_FILE,
    ConfigError,
    load_vars,
    parse_vars_arg,
    validate_bucket,
    validate_location,
    validate_prefix,
)

MACRO = PROJECT_DIR / "macros" / "validate_project_vars.sql"


def ruled_vars() -> set[str]:
    return set(re.findall(r"^\s*'([a-z0-9_]+)': \{'kind'", MACRO.read_text(), re.MULTILINE))


def test_defaults_pass_and_overrides_apply():
    values = load_vars(PROJECT_DIR)
    assert values["over_capacity_policy"] == "cap"
    assert load_vars(PROJECT_DIR, {"fleet_servers": 7})["fleet_servers"] == 7


def test_values_are_read_from_the_project_file(tmp_path):
    project = yaml.safe_load((PROJECT_DIR / PROJECT_FILE).read_text())
    project["vars"]["fleet_servers"] = 33
    (tmp_path / PROJECT_FILE).write_text(yaml.safe_dump(project))
    shutil.copytree(PROJECT_DIR / "macros", tmp_path / "macros")  # the var rules live there
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
    models = {"moving_average": {"enabled": True, "window_days": 28}}
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


def test_every_var_used_in_sql_or_yaml_has_a_rule():
    """A var pasted into SQL or a dbt config without a rule would go unchecked."""
    used = set()
    for folder in ("models", "macros", "tests", "analyses", "python_models", "seeds"):
        for path in (PROJECT_DIR / folder).rglob("*"):
            if path.suffix in (".sql", ".yml"):
                used |= set(re.findall(r"""var\(\s*['"]([a-z0-9_]+)['"]""", path.read_text()))
    sources = yaml.safe_load((PROJECT_DIR / "models/staging/raw/_raw__sources.yml").read_text())
    assert "raw_root" in str(sources)
    # nested mappings, parsed strictly by the forecasting / risk settings
    unruled = used - ruled_vars() - {"forecast_models", "risk_model"}
    assert not unruled, f"vars reach SQL without a rule in {MACRO.name}: {sorted(unruled)}"
    assert ruled_vars() <= set(load_vars(PROJECT_DIR)), "a rule for a var the project does not define"


BAD = [
    ({"risk_windows": "[30]) as w, (select * from read_csv('/etc/passwd')"}, "risk_windows=.*list of whole"),
    ({"risk_windows": [30, 0]}, "risk_windows.*bad item 0"),
    ({"risk_windows": [30, 120]}, "risk_windows \\(120\\) must be <= forecast_horizon_days"),
    ({"forecast_horizon_days": "90; drop table x"}, "forecast_horizon_days=.*whole number"),
    ({"forecast_horizon_days": 60}, "risk_windows \\(90\\) must be <= forecast_horizon_days \\(60\\)"),
    ({"min_history_days": 0}, "min_history_days=0 must be a whole number in 1..3660"),
    ({"consolidation_peak_ceiling": "60) or (1=1"}, "consolidation_peak_ceiling=.*number in"),
    ({"consolidation_peak_ceiling": 160}, "consolidation_peak_ceiling=160"),
    ({"feature_lags": ["1; drop table x"]}, "feature_lags=.*whole numbers"),
    ({"feature_lags": [7.5]}, "feature_lags.*bad item 7.5"),
    ({"rolling_windows": []}, "rolling_windows=\\[\\] must be a non-empty list"),
    ({"rolling_windows": [7, 7]}, "must not repeat"),
    ({"very_high_risk_threshold": 70.0}, "very_high_risk_threshold \\(70.0\\) must be >= high_risk"),
    ({"underutilized_threshold": 85.0}, "underutilized_threshold \\(85.0\\) must be <= high_risk_threshold"),
    ({"high_risk_threshold": -10.0}, "high_risk_threshold=-10.0 must be a number in \\[0, 100\\]"),
    ({"high_risk_threshold": True}, "high_risk_threshold=True"),
    ({"min_daily_coverage": float("nan")}, "min_daily_coverage=nan"),
    ({"business_hours_start": 18}, "business_hours_start \\(18\\) must be < business_hours_end"),
    ({"business_hours_end": 25}, "business_hours_end=25"),
    ({"holidays": ["12-25'); drop table x; --"]}, "holidays.*MM-DD"),
    ({"holidays": "12-25"}, "holidays=.*list of MM-DD"),
    ({"as_of_timestamp": "2024-06-01' + interval 1 day --"}, "as_of_timestamp.*YYYY-MM-DD"),
    ({"as_of_timestamp": 20240601}, "as_of_timestamp=20240601"),
    ({"raw_root": "data/raw'; drop table x; --"}, "raw_root=.*not a safe path"),
    ({"raw_root": "s3://Bad_Bucket/x"}, 'invalid S3 bucket name "Bad_Bucket"'),
    ({"raw_root": "s3://ab/x"}, "invalid S3 bucket name"),
    ({"truth_root": "s3://bucket/../etc"}, "truth_root.*'..' is not allowed"),
    ({"metrics": ["cpu", "GPU"]}, "metrics=.*lowercase identifiers"),
    ({"metrics": []}, "metrics=\\[\\] must be a non-empty"),
    ({"quarter_end_window_days": 32}, "quarter_end_window_days=32"),
    ({"over_capacity_policy": "drop"}, 'over_capacity_policy="drop" must be one of cap, quarantine'),
    ({"max_history_days": 0}, "max_history_days=0"),
    ({"lifecycle_tolerance_days": -1}, "lifecycle_tolerance_days=-1"),
    ({"eda_pattern_severity": "fatal"}, "eda_pattern_severity"),
    ({"late_data_lookback_days": None}, "late_data_lookback_days=None is required"),
    ({"fleet_start": "yesterday"}, "fleet_start=\"yesterday\" must be 'YYYY-MM-DD'"),
]


@pytest.mark.parametrize(("override", "message"), BAD, ids=[next(iter(o)) for o, _ in BAD])
def test_bad_values_refused_with_a_clear_message(override, message):
    with pytest.raises(ConfigError, match=message):
        load_vars(PROJECT_DIR, override)


@pytest.mark.parametrize(
    "override",
    [
        {"as_of_timestamp": "2024-06-01 00:00:00"},
        {"as_of_timestamp": dt.datetime(2024, 6, 1)},  # YAML reads an unquoted timestamp as one
        {"fleet_start": dt.date(2024, 1, 1)},
        {"holidays": []},
        {"raw_root": "s3://capacity-forecaster-raw/raw/server_metrics"},
        {"raw_root": "../shared/data/raw"},
        {"risk_windows": [7, 30, 90], "over_capacity_policy": "quarantine"},
    ],
)
def test_good_values_pass(override):
    assert load_vars(PROJECT_DIR, override)


@pytest.mark.parametrize("bucket", ["ab", "UPPER", "-lead", "a..b", "x" * 64, 5])
def test_bad_bucket_names_rejected(bucket):
    with pytest.raises(ConfigError, match="s3_bucket"):
        validate_bucket(bucket)


def test_location_and_prefix_helpers_normalise():
    assert validate_location("s3://bucket-x/p/") == "s3://bucket-x/p"
    assert validate_prefix("/raw/x/") == "raw/x"
    with pytest.raises(ConfigError):
        validate_prefix("raw/../x")


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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "must be a mapping"),
        ("just words", "must be a mapping"),
        ("{raw_root: [1", "not valid YAML"),
        ("{a: b: c}", "not valid YAML"),
    ],
)
def test_vars_argument_must_be_a_yaml_mapping(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_vars_arg(text)
    assert parse_vars_arg("{raw_root: s3://b/p}") == {"raw_root": "s3://b/p"}


@pytest.mark.dbt
def test_dbt_refuses_with_the_same_message_at_parse_time(tmp_path):
    """`dbt parse` (no data needed) applies the very rules capfc applies, word for word."""
    for override, _ in (BAD[0], BAD[12]):
        with pytest.raises(ConfigError) as refused:
            load_vars(PROJECT_DIR, override)
        done = subprocess.run(
            [str(BIN / "dbt"), "parse", "--profiles-dir", "profiles", "--vars", yaml.safe_dump(override)],
            cwd=PROJECT_DIR,
            env={**os.environ, **isolated_env(tmp_path), "CAPFC_DUCKDB_PATH": str(tmp_path / "x.duckdb")},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode != 0
        assert str(refused.value) in done.stdout, done.stdout[-2000:]
