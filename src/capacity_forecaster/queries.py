"""Small DuckDB helpers shared by the importers, the publisher and the exporter."""

from __future__ import annotations

from typing import Any

import duckdb


def one_row(result: duckdb.DuckDBPyConnection | duckdb.DuckDBPyRelation) -> tuple[Any, ...]:
    """The row of a query that always returns one (an aggregate): DuckDB types it optional."""
    row = result.fetchone()
    assert row is not None, "an aggregate query returned no row"
    return row
