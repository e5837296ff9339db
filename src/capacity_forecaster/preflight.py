"""Preflight for a local raw root: every Parquet file must be readable before dbt starts.

DuckDB stops at the first unreadable file; a daily job should instead name every bad file at
once. Only footers are read (metadata), so this costs well under a second for years of daily
partitions. Rows inside readable files are judged by the quality gate, not here.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq


class RawDataError(ValueError):
    """One or more raw files cannot be read; the message lists each file and why."""


def unreadable_files(raw_root: Path) -> list[tuple[Path, str]]:
    problems = []
    for sub in ("metrics", "inventory"):
        for path in sorted((raw_root / sub).rglob("*.parquet")):
            try:
                pq.ParquetFile(path).metadata  # noqa: B018 - reading the footer is the check
            except Exception as exc:  # pyarrow raises several types for broken files
                problems.append((path, f"{type(exc).__name__}: {exc}"))
    return problems


def check_raw_root(raw_root: Path) -> None:
    if not (raw_root / "inventory").is_dir() or not any((raw_root / "inventory").glob("*.parquet")):
        raise RawDataError(
            f"{raw_root}/inventory/*.parquet is missing: the raw contract needs the server inventory"
        )
    problems = unreadable_files(raw_root)
    if problems:
        lines = "\n".join(f"  {path}: {reason}" for path, reason in problems)
        raise RawDataError(
            f"{len(problems)} raw file(s) cannot be read; fix or remove them and re-run:\n{lines}"
        )
