"""Build and publish the DuckDB warehouse without ever blocking or confusing BI readers.

dbt writes only to the *build* file. After a successful build it is copied next to the
*published* file and swapped in with an atomic rename: a reader that has the old file open
keeps reading the old snapshot (its inode lives on), a reader that connects afterwards sees
the new one, and nobody ever sees a half-built warehouse. A failed or killed build leaves the
published file untouched.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

# Same file name as the published one: dbt-duckdb writes views with the catalog (= file
# stem) baked in, so a copy under another name would break every view.
BUILD_FILE = "build/capacity_forecaster.duckdb"
PUBLISHED_FILE = "capacity_forecaster.duckdb"


class BuildError(RuntimeError):
    """dbt failed, or another build holds the lock."""


def warehouse_dir(project_dir: Path) -> Path:
    return Path(os.environ.get("CAPFC_WAREHOUSE_DIR", project_dir / "warehouse"))


def dbt_target_for(raw_root: str) -> str:
    if not raw_root.startswith("s3://"):
        return "local"
    return "s3_endpoint" if os.environ.get("CAPFC_S3_ENDPOINT") else "s3"


@contextmanager
def build_lock(folder: Path) -> Iterator[None]:
    """One build at a time per warehouse folder; a second fails fast with a clear error."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".build.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BuildError(
                f"another build is running on {folder} (lock {folder / '.build.lock'}); wait for it to finish"
            ) from exc
        yield


def run_dbt(
    project_dir: Path,
    args: Sequence[str],
    overrides: Mapping[str, Any],
    raw_root: str,
    database: Path,
) -> None:
    dbt = Path(sys.executable).parent / "dbt"
    command = [
        str(dbt),
        *args,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir / "profiles"),
    ]
    if overrides:
        command += ["--vars", yaml.safe_dump(dict(overrides), default_flow_style=True).strip()]
    env = {
        **os.environ,
        "CAPFC_DUCKDB_PATH": str(database),
        "CAPFC_TARGET": os.environ.get("CAPFC_TARGET", dbt_target_for(raw_root)),
    }
    completed = subprocess.run(command, cwd=project_dir, env=env, check=False)
    if completed.returncode != 0:
        raise BuildError(f"`dbt {' '.join(args)}` failed (exit {completed.returncode}); see above")


def publish(folder: Path) -> Path:
    """Atomically replace the published warehouse with a copy of the build file."""
    build, published = folder / BUILD_FILE, folder / PUBLISHED_FILE
    staging = folder / f".{PUBLISHED_FILE}.tmp"
    shutil.copyfile(build, staging)
    os.replace(staging, published)
    return published


def build_and_publish(
    project_dir: Path,
    overrides: Mapping[str, Any],
    raw_root: str,
    dbt_args: Sequence[str] = ("build",),
) -> Path:
    folder = warehouse_dir(project_dir)
    with build_lock(folder):
        run_dbt(project_dir, dbt_args, overrides, raw_root, folder / BUILD_FILE)
        return publish(folder)
