"""Project configuration: the `vars:` block of dbt_project.yml is the single source of truth.

The Python side (generator, S3 push, CLI) reads the same block dbt reads, applies per-run
overrides, and validates them with the same rules dbt applies (one macro, rendered here).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

PROJECT_FILE = "dbt_project.yml"

VALIDATOR_MACRO = Path("macros") / "validate_project_vars.sql"


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
    validate_vars(values, project_dir)
    return values


def parse_vars_arg(text: str | None) -> dict[str, Any]:
    """Parse a `--vars` argument (YAML or JSON mapping), as dbt does."""
    if not text:
        return {}
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at column {where.column + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError(f"--vars is not valid YAML{at} ({problem}): {text!r}") from None
    if not isinstance(parsed, dict):
        raise ConfigError(f"--vars must be a mapping like '{{key: value}}', got: {text!r}")
    return parsed


class _Namespace:
    def __init__(self, **items: Any) -> None:
        self.__dict__.update(items)


def _raise_config_error(message: str) -> None:
    raise ConfigError(message)


def _tojson(value: Any) -> str | None:
    try:  # dbt's tojson: None when the value cannot be serialised
        return json.dumps(value)
    except (TypeError, ValueError):
        return None


@lru_cache(maxsize=4)
def _validator(path: Path, mtime_ns: int) -> jinja2.Template:
    """The dbt macro file, compiled once per version of the file."""
    env = jinja2.Environment(extensions=["jinja2.ext.do"], undefined=jinja2.StrictUndefined)
    return env.from_string(path.read_text(encoding="utf-8"))


def validate_vars(
    values: Mapping[str, Any], project_dir: Path | None = None, names: Sequence[str] | None = None
) -> None:
    """Apply the project's var rules, raising ConfigError with the same message dbt shows.

    The rules are not re-implemented here: this renders macros/validate_project_vars.sql, the
    macro dbt's on-run-start hook runs, with shims for the few dbt context members it uses.
    """
    path = (project_dir or find_project_dir()) / VALIDATOR_MACRO
    template = _validator(path, path.stat().st_mtime_ns)
    missing = object()

    def var(name: str, default: Any = missing) -> Any:
        if name in values:
            return values[name]
        if default is missing:
            raise ConfigError(f"var {name!r} is required (set it in dbt_project.yml vars)")
        return default

    module = template.make_module(
        {
            "var": var,
            "tojson": _tojson,
            "modules": _Namespace(re=re),
            "exceptions": _Namespace(raise_compiler_error=_raise_config_error),
        }
    )
    # the macro is defined by the template at render time, invisible to the type checker
    module.validate_project_vars(names=list(names) if names is not None else None)  # type: ignore[attr-defined]


def validate_bucket(name: str) -> str:
    validate_vars({"s3_bucket": name}, names=["s3_bucket"])
    return name


def validate_prefix(prefix: str) -> str:
    validate_vars({"s3_prefix": prefix}, names=["s3_prefix"])
    return prefix.strip("/")


def validate_location(location: str, name: str = "raw_root") -> str:
    """A path or s3:// URL that is interpolated into SQL must not carry quotes or SQL."""
    validate_vars({name: location}, names=[name])
    return location.rstrip("/")
