"""A pooled SQLAlchemy engine on the published warehouse that picks up every new build.

A DuckDB connection reads the release it opened until it is closed, and a pool keeps
connections open for as long as the process lives, so a plain pooled engine (notebooks, web
apps, BI back ends) would keep answering from an old build. This engine records which release
file each pooled connection opened and, on every checkout, compares it with the one the
published symlink points at now; a connection on a superseded release is discarded and
replaced by the pool (SQLAlchemy's checkout "disconnect" protocol), so the next query sees the
new build. Cost: one readlink per checkout. Requires the `bi` extra (SQLAlchemy, duckdb-engine).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _release_of(dbapi_connection: Any) -> str:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("select path from duckdb_databases() where database_name = current_database()")
        return os.path.realpath(cursor.fetchone()[0])
    finally:
        cursor.close()


def reader_engine(path: str | Path, **engine_options: Any):
    """`create_engine` for the published warehouse, read-only, that never serves an old build
    to a new checkout. `engine_options` go to `sqlalchemy.create_engine` (pool_size, ...)."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import DisconnectionError

    published = Path(path).absolute()
    connect_args = {"read_only": True, **engine_options.pop("connect_args", {})}
    engine = create_engine(f"duckdb:///{published}", connect_args=connect_args, **engine_options)

    @event.listens_for(engine, "connect")
    def remember_release(dbapi_connection, record) -> None:
        record.info["release"] = _release_of(dbapi_connection)

    @event.listens_for(engine, "checkout")
    def refuse_old_release(dbapi_connection, record, proxy) -> None:
        if record.info.get("release") != os.path.realpath(published):
            raise DisconnectionError(f"{published} now points at a newer release; reconnecting")

    return engine
