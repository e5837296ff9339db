"""`capfc publish --to`: the public marts as Parquet with Athena DDL, on S3 or in a folder.

Layout under the target (s3://bucket/prefix or a local folder):

    <mart>/part-0.parquet                  a small mart, one file
    <mart>/metric=<metric>/part-0.parquet  a large mart, hive-partitioned (PARTITION_BY)
    _ddl/<mart>.sql                        Athena CREATE EXTERNAL TABLE (Hive types, partition
                                           projection, so no MSCK REPAIR is needed)
    _manifest.json                         the release exported, rows per mart, every object
                                           with bytes, SHA-256 and rows; written last

* Idempotent: Parquet is written deterministically (rows in a fixed order, one thread), and an
  object whose size and SHA-256 match is not uploaded again (the S3 push helpers).
* Verified: rows in the files = rows in the warehouse per mart before anything is uploaded; after
  upload every object is listed back with its size.
* Objects of marts this export owns (this run's and the previous manifest's) that are no longer
  produced are deleted, so Athena never reads a stale partition; anything else under the prefix
  is left alone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from botocore.exceptions import ClientError

from capacity_forecaster.checksums import sha256_file
from capacity_forecaster.config import validate_bucket, validate_prefix
from capacity_forecaster.queries import one_row
from capacity_forecaster.release import MARTS_SCHEMA
from capacity_forecaster.s3_push import (
    abort_stale_multipart,
    delete_keys,
    explained_errors,
    make_client,
    remote_index,
    upload_changed,
    verify,
)

MANIFEST = "_manifest.json"
DDL_DIR = "_ddl"
# Marts with a row per server x metric x day grow with the fleet: one folder per metric keeps
# each file moderate and lets Athena prune by metric.
PARTITION_BY = {
    "fct_server_daily_metrics": "metric",
    "fct_forecasts": "metric",
    "fct_champion_forecasts": "metric",
}
_SCALAR_TYPES = {
    "VARCHAR": "string",
    "BOOLEAN": "boolean",
    "TINYINT": "tinyint",
    "SMALLINT": "smallint",
    "INTEGER": "int",
    "BIGINT": "bigint",
    "FLOAT": "float",
    "DOUBLE": "double",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_S": "timestamp",
    "BLOB": "binary",
    "UTINYINT": "smallint",
    "USMALLINT": "int",
    "UINTEGER": "bigint",
}


class ExportError(RuntimeError):
    """The export could not complete; the message says why."""


@dataclass
class Column:
    name: str
    duckdb_type: str
    athena_type: str
    select_expr: str
    comment: str


@dataclass
class MartFile:
    path: Path
    rel: str
    rows: int


@dataclass
class ExportResult:
    target: str
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    objects_verified: int = 0
    bytes_verified: int = 0


def athena_column(name: str, duckdb_type: str, comment: str = "") -> Column:
    """Map a DuckDB column to an Athena (Hive) type and the SELECT expression that writes it.
    Types Athena cannot read as written (UUID, INTERVAL, TIME, nested ...) are exported as text."""
    quoted = '"' + name.replace('"', '""') + '"'
    upper = duckdb_type.upper()
    if upper in _SCALAR_TYPES:
        return Column(name, duckdb_type, _SCALAR_TYPES[upper], quoted, comment)
    if re.fullmatch(r"DECIMAL\(\d+,\s*\d+\)", upper):
        return Column(name, duckdb_type, upper.lower().replace(" ", ""), quoted, comment)
    if upper in ("HUGEINT", "UBIGINT"):
        return Column(name, duckdb_type, "decimal(38,0)", f"cast({quoted} as decimal(38,0))", comment)
    if upper in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):  # stored as UTC instants
        return Column(name, duckdb_type, "timestamp", f"make_timestamp(epoch_us({quoted}))", comment)
    list_of = re.fullmatch(r"(\w+)\[\]", upper)
    if list_of and list_of.group(1) in _SCALAR_TYPES:
        return Column(name, duckdb_type, f"array<{_SCALAR_TYPES[list_of.group(1)]}>", quoted, comment)
    return Column(name, duckdb_type, "string", f"cast({quoted} as varchar)", comment)


def _hive_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def athena_ddl(
    database: str,
    table: str,
    description: str,
    columns: list[Column],
    location: str,
    partition: str | None,
    partition_values: list[str],
) -> str:
    """CREATE EXTERNAL TABLE for Athena; partitions are found by projection (no MSCK REPAIR)."""
    body = ",\n".join(
        f"  `{c.name}` {c.athena_type} COMMENT {_hive_string(c.comment)}"
        for c in columns
        if c.name != partition
    )
    lines = [
        f"CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`{table}` (",
        body,
        ")",
        f"COMMENT {_hive_string(description)}",
    ]
    properties = {"parquet.compression": "ZSTD"}
    if partition:
        part = next(c for c in columns if c.name == partition)
        lines.append(
            f"PARTITIONED BY (`{partition}` {part.athena_type} COMMENT {_hive_string(part.comment)})"
        )
        if partition_values:
            properties |= {
                "projection.enabled": "true",
                f"projection.{partition}.type": "enum",
                f"projection.{partition}.values": ",".join(partition_values),
                "storage.location.template": f"{location}{partition}=${{{partition}}}/",
            }
    lines += ["STORED AS PARQUET", f"LOCATION {_hive_string(location)}", "TBLPROPERTIES ("]
    lines.append(",\n".join(f"  {_hive_string(k)} = {_hive_string(v)}" for k, v in properties.items()))
    lines.append(");")
    return "\n".join(lines) + "\n"


def _marts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """(schema, table, description) of the public marts: warehouse_meta's list, which the
    publish took from dbt's manifest; older files without it: every table in main_marts."""
    has_meta = one_row(
        con.execute(
            "select count(*) from duckdb_tables() where schema_name = ? and table_name = 'warehouse_meta'",
            [MARTS_SCHEMA],
        )
    )[0]
    if has_meta:
        return con.execute(
            f"select table_schema, table_name, coalesce(description, '') "
            f"from {MARTS_SCHEMA}.warehouse_meta order by table_name"
        ).fetchall()
    return con.execute(
        "select schema_name, table_name, coalesce(comment, '') from duckdb_tables() "
        "where schema_name = ? order by table_name",
        [MARTS_SCHEMA],
    ).fetchall()


def _release(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    try:
        row: tuple = one_row(
            con.execute(
                f"select any_value(release_id), any_value(run_id), cast(any_value(published_at) as varchar), "
                f"cast(any_value(data_through) as varchar) from {MARTS_SCHEMA}.warehouse_meta"
            )
        )
    except duckdb.CatalogException:
        row = (None, None, None, None)
    return dict(zip(("release_id", "run_id", "published_at", "data_through"), row, strict=True))


def _write_mart(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    columns: list[Column],
    out: Path,
    partition: str | None,
) -> list[MartFile]:
    select = ", ".join(f'{c.select_expr} as "{c.name}"' for c in columns)
    query = f'select {select} from "{schema}"."{table}" order by all'
    folder = out / table
    folder.mkdir(parents=True)
    if partition:
        con.execute(
            f"copy ({query}) to '{folder}' (format parquet, compression zstd, "
            f"partition_by ({partition}), filename_pattern 'part-{{i}}')"
        )
    else:
        con.execute(f"copy ({query}) to '{folder / 'part-0.parquet'}' (format parquet, compression zstd)")
    files = []
    for path in sorted(folder.rglob("*.parquet")):
        rows = one_row(con.execute("select count(*) from read_parquet(?)", [str(path)]))[0]
        files.append(MartFile(path, path.relative_to(out).as_posix(), rows))
    return files


class _S3Target:
    def __init__(self, to: str, endpoint_url: str | None, profile: str | None) -> None:
        bucket, _, prefix = to.removeprefix("s3://").partition("/")
        self.bucket, self.prefix = validate_bucket(bucket), validate_prefix(prefix.strip("/"))
        self.endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
        self.client = make_client(profile, self.endpoint_url)

    def uri(self, rel: str = "") -> str:
        return f"s3://{self.bucket}/{self.prefix}/{rel}"

    @contextmanager
    def session(self) -> Iterator[None]:
        with explained_errors(self.bucket, self.prefix, self.endpoint_url):
            self.client.head_bucket(Bucket=self.bucket)
            abort_stale_multipart(self.client, self.bucket, self.prefix)
            yield

    def index(self) -> dict[str, int]:
        start = len(self.prefix) + 1
        return {k[start:]: size for k, size in remote_index(self.client, self.bucket, self.prefix).items()}

    def read(self, rel: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=f"{self.prefix}/{rel}")["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise

    def put(
        self, files: list[tuple[Path, str]], progress: Callable[[int, int], None] | None
    ) -> tuple[list, list]:
        keyed = [(path, f"{self.prefix}/{rel}") for path, rel in files]
        remote = {f"{self.prefix}/{k}": v for k, v in self.index().items()}
        return upload_changed(self.client, self.bucket, keyed, remote, progress=progress)

    def delete(self, rels: list[str]) -> None:
        delete_keys(self.client, self.bucket, [f"{self.prefix}/{rel}" for rel in rels])


class _FolderTarget:
    def __init__(self, to: str) -> None:
        self.root = Path(to).absolute()

    def uri(self, rel: str = "") -> str:
        return self.root.as_uri() + "/" + rel

    @contextmanager
    def session(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        yield

    def index(self) -> dict[str, int]:
        return {
            p.relative_to(self.root).as_posix(): p.stat().st_size
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        }

    def read(self, rel: str) -> bytes | None:
        path = self.root / rel
        return path.read_bytes() if path.is_file() else None

    def put(
        self, files: list[tuple[Path, str]], progress: Callable[[int, int], None] | None
    ) -> tuple[list, list]:
        uploaded, skipped = [], []
        for done, (path, rel) in enumerate(files, start=1):
            target = self.root / rel
            if (
                target.is_file()
                and target.stat().st_size == path.stat().st_size
                and (sha256_file(target) == sha256_file(path))
            ):
                skipped.append(rel)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                staged = target.with_name(f".{target.name}.tmp")
                shutil.copyfile(path, staged)
                os.replace(staged, target)  # a reader sees the old or the new file, never half
                uploaded.append(rel)
            if progress:
                progress(done, len(files))
        return uploaded, skipped

    def delete(self, rels: list[str]) -> None:
        for rel in rels:
            (self.root / rel).unlink(missing_ok=True)


def export_marts(
    database: Path,
    to: str,
    *,
    endpoint_url: str | None = None,
    profile: str | None = None,
    athena_database: str = "capacity_forecaster",
    progress: Callable[[int, int], None] | None = None,
) -> ExportResult:
    """Write every public mart of `database` as Parquet + Athena DDL + manifest to `to`."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", athena_database):
        raise ExportError(f"Athena database name {athena_database!r}: use lowercase letters, digits and _")
    target = _S3Target(to, endpoint_url, profile) if to.startswith("s3://") else _FolderTarget(to)
    result = ExportResult(target.uri())
    with tempfile.TemporaryDirectory(prefix="capfc-export-") as tmp:
        out = Path(tmp)
        files, manifest = _stage(database, out, target, athena_database, result)
        with target.session():
            previous = json.loads(target.read(MANIFEST) or b"{}")
            data = [(f.path, f.rel) for f in files]
            result.uploaded, result.skipped = target.put(data, progress)
            (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            up, skip = target.put([(out / MANIFEST, MANIFEST)], None)  # last: marks a complete export
            result.uploaded += up
            result.skipped += skip
            owned = {*manifest["tables"], *previous.get("tables", {}), DDL_DIR}
            expected = {f.rel: f.path.stat().st_size for f in files} | {
                MANIFEST: (out / MANIFEST).stat().st_size
            }
            stale = sorted(
                rel for rel in target.index() if rel.split("/")[0] in owned and rel not in expected
            )
            target.delete(stale)
            result.deleted = stale
            remote = target.index()
    result.objects_verified, result.bytes_verified = verify(
        expected, remote, target.uri(), "`capfc publish --to`"
    )
    return result


def _stage_mart(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, description: str, out: Path, ddl_args: tuple
) -> tuple[list[MartFile], dict]:
    """One mart: Parquet files checked against the warehouse's row count, its DDL, its manifest entry."""
    columns = [
        athena_column(name, dtype, comment or "")
        for name, dtype, comment in con.execute(
            "select column_name, data_type, comment from duckdb_columns() "
            "where schema_name = ? and table_name = ? order by column_index",
            [schema, table],
        ).fetchall()
    ]
    partition = PARTITION_BY.get(table)
    partition = partition if partition in {c.name for c in columns} else None
    rows = one_row(con.execute(f'select count(*) from "{schema}"."{table}"'))[0]
    written = _write_mart(con, schema, table, columns, out, partition)
    if sum(f.rows for f in written) != rows:
        raise ExportError(
            f"{schema}.{table}: {sum(f.rows for f in written)} rows written, {rows} in the warehouse"
        )
    values = []
    if partition:
        values = [
            v
            for (v,) in con.execute(
                f'select distinct "{partition}" from "{schema}"."{table}" order by 1'
            ).fetchall()
        ]
    athena_database, location = ddl_args
    ddl = out / DDL_DIR / f"{table}.sql"
    ddl.parent.mkdir(exist_ok=True)
    ddl.write_text(athena_ddl(athena_database, table, description, columns, location, partition, values))
    entry = {
        "rows": rows,
        "partitioned_by": partition,
        "columns": {c.name: c.athena_type for c in columns},
        "objects": [
            {"key": f.rel, "bytes": f.path.stat().st_size, "sha256": sha256_file(f.path), "rows": f.rows}
            for f in written
        ],
        "ddl": f"{DDL_DIR}/{table}.sql",
    }
    return [*written, MartFile(ddl, f"{DDL_DIR}/{table}.sql", 0)], entry


def _stage(
    database: Path, out: Path, target: _S3Target | _FolderTarget, athena_database: str, result: ExportResult
) -> tuple[list[MartFile], dict]:
    """Write every public mart locally; return the files and the manifest."""
    if not database.exists():
        raise ExportError(f"no warehouse at {database}: run `capfc build` first")
    files: list[MartFile] = []
    tables: dict[str, dict] = {}
    with duckdb.connect(str(database), read_only=True, config={"threads": 1}) as con:
        for schema, table, description in _marts(con):
            staged, tables[table] = _stage_mart(
                con, schema, table, description, out, (athena_database, target.uri(f"{table}/"))
            )
            files += staged
            result.rows[table] = tables[table]["rows"]
        release = _release(con)
    if not tables:
        raise ExportError(f"{database} has no public marts to export")
    return files, {"warehouse": release, "athena_database": athena_database, "tables": tables}
