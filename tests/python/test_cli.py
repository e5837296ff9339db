from __future__ import annotations

import pytest
from conftest import capfc

from capacity_forecaster.cli import build_parser


@pytest.mark.parametrize("command", ["generate", "push", "build", "report", "run", "import"])
def test_every_subcommand_has_help(command):
    completed = capfc(command, "--help")
    assert "usage: capfc" in completed.stdout and command in completed.stdout


def test_parser_knows_all_subcommands():
    choices = build_parser()._subparsers._group_actions[0].choices
    assert set(choices) == {"generate", "push", "build", "publish", "report", "run", "import"}


def test_unsafe_raw_root_rejected_before_dbt_runs(tmp_path):
    completed = capfc("build", "--raw-root", "data/raw'; drop table x; --", check=False)
    assert completed.returncode == 2
    assert "var raw_root=" in completed.stderr and "is not a safe path" in completed.stderr


def test_generate_cli_writes_fleet(tmp_path):
    raw = tmp_path / "raw"
    completed = capfc(
        "generate",
        "--servers",
        "4",
        "--days",
        "10",
        "--start",
        "2024-05-01",
        "--future-days",
        "0",
        "--raw-root",
        str(raw),
    )
    assert "generated 4 servers x 10 days" in completed.stdout
    assert len(list((raw / "metrics").iterdir())) == 10
