"""Make DuckDB's httpfs and aws extensions available without network access.

DuckDB normally downloads extensions on first use. Offline, that fails. The PyPI wheels
`duckdb-extension-httpfs` / `duckdb-extension-aws` ship the signed binaries; copying them into
DuckDB's extension directory (<dir>/v<version>/<platform>/) lets the ordinary `INSTALL`,
`LOAD`, autoload and `CREATE SECRET (TYPE s3 ...)` paths work unchanged. On a machine with
internet and without those wheels this is a no-op and DuckDB downloads as usual.
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import duckdb

BUNDLED = {"httpfs": "duckdb_extension_httpfs", "aws": "duckdb_extension_aws"}


def default_extension_dir() -> Path:
    return Path.home() / ".duckdb" / "extensions"


def _bundled_file(extension: str) -> Path | None:
    try:
        module = importlib.import_module(BUNDLED[extension])
    except ImportError:
        return None
    if module.__file__ is None:  # a namespace package ships no binaries
        return None
    version = f"v{duckdb.__version__}"
    candidate = Path(module.__file__).parent / "extensions" / version / f"{extension}.duckdb_extension"
    return candidate if candidate.is_file() else None


def stage_bundled_extensions(extension_dir: str | Path | None = None) -> list[Path]:
    """Copy bundled extension binaries into the extension directory; return staged paths."""
    root = Path(extension_dir) if extension_dir else default_extension_dir()
    row = duckdb.execute("pragma platform").fetchone()
    assert row is not None  # the pragma always returns one row
    platform = row[0]
    staged = []
    for extension in BUNDLED:
        source = _bundled_file(extension)
        if source is None:
            continue
        target = root / f"v{duckdb.__version__}" / platform / source.name
        if not target.is_file() or target.stat().st_size != source.stat().st_size:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            shutil.copyfile(source, tmp)
            tmp.replace(target)  # atomic: a concurrent reader never sees half a binary
        staged.append(target)
    return staged
