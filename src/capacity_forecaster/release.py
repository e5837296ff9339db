"""Write one self-contained, compacted release of the warehouse from the dbt build file.

* Compaction: dbt drops and recreates tables in the build file on every run and DuckDB does
  not give freed blocks back, so the build file only grows. A release is a *fresh* file filled
  with `COPY FROM DATABASE` (tables with their constraints and comments, views, macros), so its
  size follows the data, not the number of rebuilds.
* Portability: dbt-duckdb writes views with the catalog (the build file's stem) baked in, and a
  relative `raw_root` leaves relative paths in the views over the raw files. Both are rewritten
  here, so every object works whatever the file is called and wherever the reader runs.
  (Views bind on creation; one whose files cannot be reached from here is dropped, with a note.)
* `main_marts.warehouse_meta`: what was published, from which run, with which versions, and
  how many rows each public mart holds, so tools can detect a new build.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from capacity_forecaster.queries import one_row

META_TABLE = "main_marts.warehouse_meta"
MARTS_SCHEMA = "main_marts"
_FILE_READER = re.compile(r"(\bread_(?:parquet|csv|csv_auto|json|json_auto|ndjson)\s*\(\s*)'((?:[^']|'')*)'")

META_COLUMNS: dict[str, tuple[str, str]] = {
    "release_id": ("varchar", "Published release (folder under warehouse/releases/); new on every publish."),
    "run_id": ("varchar", "dbt invocation id of the build behind this release."),
    "table_schema": ("varchar", "Schema of the public mart."),
    "table_name": ("varchar", "Public mart described by this row."),
    "description": ("varchar", "The mart's dbt description."),
    "row_count": ("bigint", "Rows in the mart in this release."),
    "data_through": ("date", "Last UTC day with accepted measurements (fct_server_daily_metrics)."),
    "forecast_through": ("date", "Last forecast day in fct_forecasts; NULL when forecasting was not built."),
    "dbt_version": ("varchar", "dbt-core version that built it."),
    "duckdb_version": ("varchar", "DuckDB version that wrote the file."),
    "package_version": ("varchar", "capacity-forecaster package version."),
    "git_commit": (
        "varchar",
        "Project git commit (HEAD), suffixed -dirty with local changes; NULL outside git.",
    ),
    "published_at": ("timestamp", "When this release was published, UTC."),
}


@dataclass(frozen=True)
class PublicMart:
    schema: str
    name: str
    description: str


def _manifest(project_dir: Path) -> dict[str, Any]:
    target = Path(os.environ.get("DBT_TARGET_PATH", "target"))
    path = target if target.is_absolute() else project_dir / target
    try:
        return json.loads((path / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}


def public_marts(
    con: duckdb.DuckDBPyConnection, catalog: str, manifest: Mapping[str, Any]
) -> list[PublicMart]:
    """Public dbt models that exist in the file (a partial build may lack some); without a
    manifest, every table in main_marts."""
    present = {
        (s, t)
        for s, t in con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = ?", [catalog]
        ).fetchall()
    }
    nodes = manifest.get("nodes", {}).values()
    marts = [
        PublicMart(n["schema"], n.get("alias") or n["name"], " ".join((n.get("description") or "").split()))
        for n in nodes
        if n.get("resource_type") == "model" and n.get("access") == "public"
    ]
    if not marts:
        marts = [PublicMart(s, t, "") for s, t in present if s == MARTS_SCHEMA]
    return sorted((m for m in marts if (m.schema, m.name) in present), key=lambda m: (m.schema, m.name))


def _git_commit(project_dir: Path) -> str | None:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(project_dir), *args], capture_output=True, text=True, timeout=10, check=True
        )
        return done.stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def portable_view_sql(sql: str, catalog: str, schemas: set[str], base_dir: Path) -> str:
    """Drop the catalog qualifier from `catalog.schema.object` references and make relative
    file paths in read_parquet/read_csv/read_json absolute (relative to `base_dir`, dbt's cwd)."""
    names = "|".join(re.escape(s) for s in sorted(schemas, key=len, reverse=True))
    qualified = re.compile(
        rf'(?<![\w."]){re.escape(catalog)}\.(?="?(?:{names})"?\.)|"{re.escape(catalog)}"\.'
    )
    parts = re.split(r"('(?:[^']|'')*')", sql)  # odd items are string literals: left as they are
    sql = "".join(part if i % 2 else qualified.sub("", part) for i, part in enumerate(parts))

    def absolute(match: re.Match[str]) -> str:
        path = match.group(2).replace("''", "'")
        if "://" in path or os.path.isabs(path):
            return match.group(0)
        return match.group(1) + "'" + str(base_dir / path).replace("'", "''") + "'"

    sql = _FILE_READER.sub(absolute, sql)
    return re.sub(r"^\s*create\s+view\b", "create or replace view", sql, count=1, flags=re.IGNORECASE)


def _rewrite_views(con: duckdb.DuckDBPyConnection, catalog: str, base_dir: Path) -> list[str]:
    """Recreate the release's views portably; returns notes about views that had to be dropped."""
    schemas = {
        s
        for (s,) in con.execute(
            "select schema_name from duckdb_schemas() where database_name = 'release'"
        ).fetchall()
    }
    pending = con.execute(
        "select schema_name, view_name, sql from duckdb_views() "
        "where database_name = 'release' and not internal"
    ).fetchall()
    errors: dict[tuple[str, str], str] = {}
    # A view binds on creation, so one over another view waits for it: retry until no progress.
    while pending:
        left = []
        for schema, view, sql in pending:
            try:
                con.execute(portable_view_sql(sql, catalog, schemas, base_dir))
            except duckdb.Error as exc:
                errors[(schema, view)] = str(exc).splitlines()[0]
                left.append((schema, view, sql))
        if len(left) == len(pending):
            break
        pending = left
    notes = []
    for schema, view, _ in pending:
        con.execute(f'drop view if exists "{schema}"."{view}"')
        notes.append(f"view {schema}.{view} left out of the release: {errors[(schema, view)]}")
    return notes


def _write_meta(
    con: duckdb.DuckDBPyConnection, release_id: str, project_dir: Path, manifest: Mapping[str, Any]
) -> None:
    marts = public_marts(con, "release", manifest)
    tables = {
        (s, t)
        for s, t in con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'release'"
        ).fetchall()
    }

    def scalar(sql: str, table: tuple[str, str]) -> Any:
        return one_row(con.execute(sql))[0] if table in tables else None

    build = {
        "release_id": release_id,
        "run_id": manifest.get("metadata", {}).get("invocation_id"),
        "data_through": scalar(
            f"select max(metric_date) from {MARTS_SCHEMA}.fct_server_daily_metrics",
            (MARTS_SCHEMA, "fct_server_daily_metrics"),
        ),
        "forecast_through": scalar(
            f"select max(forecast_date) from {MARTS_SCHEMA}.fct_forecasts", (MARTS_SCHEMA, "fct_forecasts")
        ),
        "dbt_version": manifest.get("metadata", {}).get("dbt_version") or _version("dbt-core"),
        "duckdb_version": duckdb.__version__,
        "package_version": _version("capacity-forecaster"),
        "git_commit": _git_commit(project_dir),
        "published_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
    }
    columns = ", ".join(f"{name} {sql_type}" for name, (sql_type, _) in META_COLUMNS.items())
    # a partial build (`capfc build --select stg_...`) may have no marts schema yet
    con.execute(f"create schema if not exists {MARTS_SCHEMA}")
    con.execute(f"create table {META_TABLE} ({columns}, primary key (release_id, table_schema, table_name))")
    con.execute(
        f"comment on table {META_TABLE} is 'One row per public mart in this release, with the "
        "build it came from (run, versions, data through, published at). "
        "Poll max(published_at) to detect a new build.'"
    )
    for name, (_, description) in META_COLUMNS.items():
        con.execute(f"comment on column {META_TABLE}.{name} is '{description.replace(chr(39), chr(39) * 2)}'")
    rows = []
    for mart in marts:
        count = one_row(con.execute(f'select count(*) from "{mart.schema}"."{mart.name}"'))[0]
        row = {**build, "table_schema": mart.schema, "table_name": mart.name, "description": mart.description}
        rows.append([count if key == "row_count" else row[key] for key in META_COLUMNS])
    if rows:
        placeholders = ", ".join("?" for _ in META_COLUMNS)
        con.executemany(f"insert into {META_TABLE} values ({placeholders})", rows)


def write_release(build: Path, target: Path, release_id: str, project_dir: Path) -> list[str]:
    """Copy `build` into the new file `target`, compacted and portable, with warehouse_meta.

    Returns notes for the user (views left out). Raises duckdb.Error / OSError on failure;
    the caller removes the partial file."""
    catalog = build.stem  # the name dbt-duckdb baked into the views
    config: dict[str, str | bool | int | float | list[str]] = {
        "threads": 2,
        "memory_limit": os.environ.get("CAPFC_DUCKDB_MEMORY_LIMIT", "4GB"),
        "temp_directory": str(target.parent / ".spill"),
    }
    manifest = _manifest(project_dir)
    with duckdb.connect(config=config) as con:
        con.execute(f"attach '{_quote(build)}' as \"{catalog}\" (read_only)")
        con.execute(f"attach '{_quote(target)}' as release")
        con.execute(f'copy from database "{catalog}" to release')
        con.execute("use release")
        if any(
            "s3://" in sql
            for (sql,) in con.execute(
                "select sql from duckdb_views() where database_name = 'release'"
            ).fetchall()
        ):
            _enable_s3(con)
        notes = _rewrite_views(con, catalog, project_dir)
        _write_meta(con, release_id, project_dir, manifest)
        con.execute("use memory")
        con.execute("checkpoint release")
        con.execute("detach release")
        con.execute(f'detach "{catalog}"')
    return notes


def _enable_s3(con: duckdb.DuckDBPyConnection) -> None:
    """Views over s3:// raw files bind only with credentials: the same credential chain (and
    S3-compatible endpoint) the s3 / s3_endpoint dbt targets use (profiles/profiles.yml)."""
    from capacity_forecaster.duckdb_extensions import stage_bundled_extensions

    stage_bundled_extensions()
    region = os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    options = [f"region '{_quote(region)}'"]
    endpoint = os.environ.get("CAPFC_S3_ENDPOINT")
    if endpoint:
        use_ssl = os.environ.get("CAPFC_S3_USE_SSL", "false").lower() == "true"
        options += [
            "chain 'env;config'",
            f"endpoint '{_quote(endpoint)}'",
            "url_style 'path'",
            f"use_ssl {use_ssl}",
        ]
    try:
        con.execute(f"create secret capfc_publish (type s3, provider credential_chain, {', '.join(options)})")
    except duckdb.Error as exc:  # no credentials here: the views are dropped with a note
        print(f"note: no S3 credentials for the raw views ({str(exc).splitlines()[0]})", file=sys.stderr)


def _quote(value: object) -> str:
    return str(value).replace("'", "''")
