"""The one error type importers raise for bad input; the CLI prints it as one line, exit 2."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class ImportInputError(ValueError):
    """The input cannot be imported; the message names the file, column or option and why."""


@contextmanager
def reported_as_input_errors() -> Iterator[None]:
    """Filesystem, DuckDB and Arrow failures during an import (a read-only raw root, a full
    disk, a corrupt inventory file) become one ImportInputError line, not a traceback."""
    import duckdb
    import pyarrow as pa

    try:
        yield
    except (OSError, duckdb.Error, pa.ArrowException) as exc:
        text = str(exc).strip().splitlines()
        raise ImportInputError(text[0] if text else type(exc).__name__) from None
