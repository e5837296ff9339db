"""The pre-commit hooks lint with the same versions as `make lint` (requirements.lock)."""

from __future__ import annotations

import re

import yaml
from conftest import PROJECT_DIR


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_pre_commit_pins_match_the_lock():
    lock = {}
    for line in (PROJECT_DIR / "requirements.lock").read_text().splitlines():
        name, _, version = line.partition("==")
        lock[_normalise(name)] = version
    config = yaml.safe_load((PROJECT_DIR / ".pre-commit-config.yaml").read_text())
    pins = [
        dep
        for repo in config["repos"]
        for hook in repo["hooks"]
        for dep in hook.get("additional_dependencies", [])
    ]
    assert pins
    for pin in pins:
        name, sep, version = pin.partition("==")
        assert sep, f"{pin}: pre-commit dependencies must be pinned with =="
        assert lock.get(_normalise(name)) == version, f"{pin} differs from requirements.lock"
