"""Preflight for a local raw root: every file the build would read must be usable before dbt
starts, and every problem is named at once (DuckDB stops at the first bad file, sometimes
naming none).

Checked, without ever opening anything that is not a regular file (a FIFO or a device would
block a reader forever):
* entries named *.parquet that are not regular files: FIFOs, sockets, devices, directories,
  dangling symlinks;
* layout: metrics files must sit in ``metrics/date=YYYY-MM-DD/``, inventory files directly in
  ``inventory/`` (the readers' globs would skip anything else without a word). The same rule
  is applied inside dbt for any raw root, S3 included (macros/raw_metrics.sql);
* readability: the footer and every data page of every file (a file can have a valid footer
  and lost pages). Files that passed before with the same size and mtime are not re-read
  (``cache``), so a daily build pays only for its new files.

Rows inside readable files are judged by the quality gate, not here.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq


class RawDataError(ValueError):
    """One or more raw files cannot be used; the message lists each file and why."""


# Twin of the layout rule in macros/raw_metrics.sql (which covers S3 and bare dbt builds).
_PARTITION_FILE = re.compile(r"date=(\d{4}-\d{2}-\d{2})/[^/'*?\[\]{}\n\\]+\.parquet")
_INVENTORY_FILE = re.compile(r"[^/'*?\[\]{}\n\\]+\.parquet")
_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a directory",
}


def _entries(folder: Path, seen: set[tuple[int, int]]) -> Iterator[tuple[Path, os.stat_result | None]]:
    """Every entry under folder (following directory symlinks once), with its stat or None
    for a dangling symlink. Never opens a file."""
    try:
        info = folder.stat()
    except OSError:
        return
    if (info.st_dev, info.st_ino) in seen:
        return
    seen.add((info.st_dev, info.st_ino))
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        path = Path(entry.path)
        try:
            entry_stat = path.stat()  # follows symlinks
        except OSError:
            yield path, None
            continue
        if stat.S_ISDIR(entry_stat.st_mode) and not entry.name.lower().endswith(".parquet"):
            yield from _entries(path, seen)
        else:
            yield path, entry_stat


def _layout_problem(relative: str, sub: str) -> str | None:
    if sub == "inventory":
        if not _INVENTORY_FILE.fullmatch(relative):
            return "not directly in inventory/ (the reader reads inventory/*.parquet only)"
        return None
    match = _PARTITION_FILE.fullmatch(relative)
    if match:
        try:
            dt.date.fromisoformat(match.group(1))
            return None
        except ValueError:
            pass
    return (
        "not in metrics/date=YYYY-MM-DD/<name>.parquet (nested, outside a partition, a bad date, "
        "or a name with a quote, glob character or line break)"
    )


def _unreadable(path: Path) -> str | None:
    """Read the footer and decode every page: the cheapest check that cannot be fooled by a
    valid footer over missing or zeroed pages."""
    try:
        parquet = pq.ParquetFile(path)
        for group in range(parquet.num_row_groups):
            parquet.read_row_group(group)
    except Exception as exc:  # pyarrow raises several types for broken files
        return f"unreadable ({type(exc).__name__}: {' '.join(str(exc).split())})"
    return None


def raw_file_problems(raw_root: Path, cache: Path | None = None) -> list[tuple[Path, str]]:
    """(path, why) for every unusable raw file, in path order."""
    passed: dict[str, list[int]] = {}
    if cache is not None and cache.is_file():
        try:
            passed = json.loads(cache.read_text())
        except (OSError, ValueError):
            passed = {}
    checked: dict[str, list[int]] = {}  # files that pass now, for the next run
    problems: list[tuple[Path, str]] = []
    to_read: list[tuple[Path, list[int]]] = []
    for sub in ("metrics", "inventory"):
        root = raw_root / sub
        for path, info in _entries(root, set()):
            if not path.name.lower().endswith(".parquet"):
                continue  # never read (e.g. _SUCCESS markers): the readers glob *.parquet
            if info is None:
                problems.append((path, "a dangling symlink"))
            elif not stat.S_ISREG(info.st_mode):
                kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
                problems.append((path, f"{kind}, not a regular file"))
            elif why := _layout_problem(path.relative_to(root).as_posix(), sub):
                problems.append((path, why))
            else:
                signature = [info.st_size, info.st_mtime_ns]
                if passed.get(str(path)) == signature:
                    checked[str(path)] = signature
                else:
                    to_read.append((path, signature))
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        verdicts = list(pool.map(_unreadable, [path for path, _ in to_read]))
    for (path, signature), why in zip(to_read, verdicts, strict=True):
        if why:
            problems.append((path, why))
        else:
            checked[str(path)] = signature
    if cache is not None and not problems:  # a refused run leaves no trace
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(checked))
    return sorted(problems)


def check_raw_root(raw_root: Path, cache: Path | None = None) -> None:
    inventory = raw_root / "inventory"
    if not inventory.is_dir() or not any(p.is_file() for p in inventory.glob("*.parquet")):
        raise RawDataError(f"{inventory}/*.parquet is missing: the raw contract needs the server inventory")
    problems = raw_file_problems(raw_root, cache)
    if problems:
        lines = "\n".join(f"  {path}: {reason}" for path, reason in problems)
        raise RawDataError(
            f"{len(problems)} raw file(s) cannot be used; fix, move or remove them and re-run:\n{lines}"
        )
