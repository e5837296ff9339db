"""Build and publish the DuckDB warehouse without ever blocking or confusing BI readers.

dbt writes only to the private *build* file. Publishing turns it into a *release*, a fresh,
compacted, self-contained copy (capacity_forecaster.release), in its own folder, and then
atomically flips the published path, a symlink, to it:

    warehouse/capacity_forecaster.duckdb -> releases/<release_id>/capacity_forecaster.duckdb

Why releases and a symlink rather than renaming a copy over one file: DuckDB names the
write-ahead log after the database's *resolved* path (<file>.wal) and replays whatever WAL it
finds there on open. With one published file name, a process that had the old file open
read-write kept writing `capacity_forecaster.duckdb.wal` (even after the swap, after its next
checkpoint) and every new reader replayed that foreign log onto the fresh file. A release file's
WAL path is unique to it, so another process's log can only ever touch the release it opened.
The same resolution keeps DuckDB's per-process instance cache honest: a new connection in a
process that still holds the old release opens the new one instead of reusing the old.

Readers connected before a flip keep their consistent snapshot (the old release's inode lives
on); connections opened after it see the new build; a failed or killed build or publish leaves
the published path untouched, and its leftovers are removed by the next publish.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import yaml

from capacity_forecaster.release import write_release

# The release file keeps the build file's name, so its catalog is `capacity_forecaster` too.
BUILD_FILE = "build/capacity_forecaster.duckdb"
PUBLISHED_FILE = "capacity_forecaster.duckdb"
RELEASES_DIR = "releases"
_STAGING_PREFIX = ".tmp-"


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


class PublishError(BuildError):
    """Publishing failed; the published warehouse is unchanged."""


def _held_for_write(path: Path) -> bool:
    """Does some process hold DuckDB's read-write (exclusive) lock on `path`?

    Read from /proc/locks instead of probing with fcntl: opening and closing the file here
    would drop any lock this very process holds on it (POSIX record-lock semantics). Without
    /proc (not Linux) a superseded release is removed even if a writer still has it open."""
    try:
        st = path.stat()
        locks = Path("/proc/locks").read_text()
    except OSError:
        return False
    inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    return any(
        fields[3:4] == ["WRITE"] and fields[5:6] == [inode]
        for fields in (line.split() for line in locks.splitlines())
    )


def _prune(folder: Path, keep: Path | None) -> None:
    """Remove half-written releases and superseded ones, except a release some process still
    has open read-write (its WAL lives next to it; removing it would break that process)."""
    releases = folder / RELEASES_DIR
    if not releases.is_dir():
        return
    for entry in releases.iterdir():
        if keep is not None and entry == keep:
            continue
        if not entry.name.startswith(_STAGING_PREFIX) and _held_for_write(entry / PUBLISHED_FILE):
            continue
        shutil.rmtree(entry, ignore_errors=True)


def current_release(folder: Path) -> Path | None:
    """The release folder the published path points at (None before the first publish)."""
    published = folder / PUBLISHED_FILE
    if not published.is_symlink():
        return None
    return (folder / os.readlink(published)).parent


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _explain(exc: BaseException, folder: Path) -> PublishError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "No space left" in reason:
        reason = f"no space left on the device holding {folder}"
    return PublishError(
        f"publishing failed ({reason}); the published warehouse is unchanged and the partial "
        "copy was removed; fix that and re-run `capfc publish` (or the next build)"
    )


def publish(folder: Path, project_dir: Path | None = None) -> Path:
    """Turn the build file into a new release and flip the published path to it atomically."""
    project_dir = project_dir or Path.cwd()
    build, published = folder / BUILD_FILE, folder / PUBLISHED_FILE
    if not build.is_file():
        raise PublishError(f"nothing to publish: no build file at {build}; run `capfc build`")
    _prune(folder, keep=current_release(folder))  # also frees space left by a failed publish
    release_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8]
    staging = folder / RELEASES_DIR / f"{_STAGING_PREFIX}{release_id}"
    release = folder / RELEASES_DIR / release_id
    link = folder / f".{PUBLISHED_FILE}.{release_id}.link"
    try:
        staging.mkdir(parents=True)
        notes = write_release(build, staging / PUBLISHED_FILE, release_id, project_dir)
        shutil.rmtree(staging / ".spill", ignore_errors=True)
        _fsync(staging / PUBLISHED_FILE)
        os.rename(staging, release)
        os.symlink(os.path.relpath(release / PUBLISHED_FILE, folder), link)
        os.replace(link, published)  # the flip: atomic, readers see the old or the new release
    except (OSError, duckdb.Error) as exc:
        for leftover in (staging, release):
            shutil.rmtree(leftover, ignore_errors=True)
        link.unlink(missing_ok=True)
        raise _explain(exc, folder) from exc
    _fsync(folder)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    # A WAL next to the symlink belongs to the single-file layout of earlier versions: nothing
    # resolves to it any more, so it can never be replayed; remove it to avoid confusion.
    Path(f"{published}.wal").unlink(missing_ok=True)
    _prune(folder, keep=release)
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
        return publish(folder, project_dir)
