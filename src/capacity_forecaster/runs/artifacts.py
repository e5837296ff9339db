"""Where a training run keeps what it fitted, and how a later build gets it back intact.

Layout, next to the DuckDB build file:

    model_artifacts/<run_id>/<file>                 joblib, Parquet, gzipped JSON lines
    model_artifacts/<run_id>/manifest-<step>.json   written last by each step: file names,
                                                    bytes, SHA-256, the step's timings

A run is complete when every step of its component wrote its manifest; only a complete run
can be reused. Loading verifies the SHA-256 recorded at training, so a file changed or
truncated since is refused instead of silently scoring with it. Files are addressed by run id
and name under the current root (not by the absolute path recorded at training), so a
warehouse folder that was moved or copied keeps working.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import pyarrow as pa
import pyarrow.parquet as pq

from capacity_forecaster.checksums import sha256_file

ROOT_NAME = "model_artifacts"
# Steps that write into a run, per component; all of them make a run complete.
REQUIRED_STEPS = {"forecast": ("backtest", "cv", "models"), "risk": ("model", "backtest")}
RUN_ID = re.compile(r"^(?P<component>[a-z]+)-(?P<stamp>\d{8}T\d{6})-[0-9a-f]{8}$")


# The registry row every training step returns per fitted model (int_*_models_trained).
REGISTRY_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("model", pa.string()),
        ("scopes", pa.string()),
        ("params_json", pa.string()),
        ("series_count", pa.int64()),
        ("rows_used", pa.int64()),
        ("fit_seconds", pa.float64()),
        ("backtest_seconds", pa.float64()),
        ("artifact_path", pa.string()),
        ("artifact_sha256", pa.string()),
        ("train_start_date", pa.date32()),
        ("train_end_date", pa.date32()),
        ("trained_at", pa.timestamp("us")),
    ]
)


class ArtifactError(RuntimeError):
    """A stored artifact is missing or differs from what its run recorded."""


def new_run_id(component: str, now: dt.datetime) -> str:
    return f"{component}-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def run_started(run_id: str) -> dt.datetime | None:
    """The UTC time encoded in a run id (None for folders that are not runs)."""
    match = RUN_ID.match(run_id)
    return dt.datetime.strptime(match["stamp"], "%Y%m%dT%H%M%S") if match else None


@dataclass
class StepWriter:
    """Files of one step of a run; `finish()` writes the manifest (last, atomically)."""

    store: ArtifactStore
    run_id: str
    step: str
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.store.run_dir(self.run_id)

    def _record(self, name: str) -> Path:
        path = self.folder / name
        self.files[name] = {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
        return path

    def joblib(self, name: str, value: Any) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        joblib.dump(value, self.folder / name)
        return self._record(name)

    def parquet(self, name: str, table: pa.Table) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, self.folder / name, compression="zstd")
        return self._record(name)

    def json_lines(self, name: str, records: list[dict[str, Any]]) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        with gzip.open(self.folder / name, "wt", encoding="utf-8", compresslevel=3) as fh:
            for record in records:
                fh.write(json.dumps(record, separators=(",", ":")))
                fh.write("\n")
        return self._record(name)

    def finish(self, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        self.folder.mkdir(parents=True, exist_ok=True)
        manifest = {
            "run_id": self.run_id,
            "step": self.step,
            "files": self.files,
            "meta": meta or {},
            "written_at": dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
        }
        target = self.folder / f"manifest-{self.step}.json"
        tmp = target.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
        os.replace(tmp, target)
        return manifest


@dataclass(frozen=True)
class ArtifactStore:
    root: Path

    def run_dir(self, run_id: str) -> Path:
        return self.root / run_id

    def step(self, run_id: str, step: str) -> StepWriter:
        return StepWriter(self, run_id, step)

    def manifest(self, run_id: str, step: str) -> dict[str, Any] | None:
        path = self.run_dir(run_id) / f"manifest-{step}.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def problem(self, run_id: str, component: str) -> str | None:
        """Why the run cannot be reused (None when every step's files are there)."""
        if not self.run_dir(run_id).is_dir():
            return f"its artifacts are gone ({self.run_dir(run_id)})"
        for step in REQUIRED_STEPS[component]:
            manifest = self.manifest(run_id, step)
            if manifest is None:
                return f"its {step} step did not finish (no manifest-{step}.json)"
            for name, info in manifest["files"].items():
                path = self.run_dir(run_id) / name
                if not path.is_file() or path.stat().st_size != info["bytes"]:
                    return f"{name} is missing or changed since training"
        return None

    def path(self, run_id: str, step: str, name: str) -> Path:
        """A verified artifact file (SHA-256 as recorded by its step)."""
        manifest = self.manifest(run_id, step)
        path = self.run_dir(run_id) / name
        if manifest is None or name not in manifest["files"]:
            raise ArtifactError(f"run {run_id} has no {name} ({step} step not recorded)")
        if not path.is_file() or sha256_file(path) != manifest["files"][name]["sha256"]:
            raise ArtifactError(f"{path} is missing or changed since run {run_id} wrote it")
        return path

    def load_joblib(self, run_id: str, step: str, name: str) -> Any:
        return joblib.load(self.path(run_id, step, name))

    def load_parquet(self, run_id: str, step: str, name: str) -> pa.Table:
        return pq.read_table(self.path(run_id, step, name))

    def load_json_lines(self, run_id: str, step: str, name: str) -> list[dict[str, Any]]:
        with gzip.open(self.path(run_id, step, name), "rt", encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def prune(
        self, now: dt.datetime, retention_days: int, keep: set[str], component: str, foreign: bool = False
    ) -> list[str]:
        """Remove `component`'s run folders older than `retention_days` (by the time in their
        id), except those in `keep`; with `foreign`, also folders that are not runs (by their
        modification time). Returns the names removed."""
        if not self.root.is_dir():
            return []
        removed = []
        cutoff = now - dt.timedelta(days=retention_days)
        for entry in sorted(self.root.iterdir()):
            if not entry.is_dir() or entry.name in keep:
                continue
            match = RUN_ID.match(entry.name)
            if match and match["component"] == component:
                started = run_started(entry.name)
            elif not match and foreign:
                started = dt.datetime.fromtimestamp(entry.stat().st_mtime, dt.UTC).replace(tzinfo=None)
            else:
                continue
            if started is not None and started < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry.name)
        return removed


def artifact_root(database_path: str | Path) -> Path:
    """Artifacts live next to the DuckDB file being built."""
    return Path(database_path).resolve().parent / ROOT_NAME


def artifact_root_for(session) -> Path:
    """The artifact folder of the DuckDB file a dbt Python model's session writes to."""
    path = session.sql(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchone()[0]
    return artifact_root(path)
