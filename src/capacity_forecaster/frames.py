"""What dbt hands a Python model, as pandas: dbt-duckdb passes relations, Arrow tables or
readers depending on how the model reads its refs; the package's entry points accept any."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa


def to_pandas(table: Any) -> pd.DataFrame:
    """A DataFrame from an Arrow table/reader (DuckDB `.arrow()`), a relation or a DataFrame."""
    if isinstance(table, pd.DataFrame):
        return table
    if hasattr(table, "arrow") and not isinstance(table, pa.Table | pa.RecordBatchReader):
        table = table.arrow()
    if isinstance(table, pa.RecordBatchReader):
        table = table.read_all()
    if isinstance(table, pa.Table):
        return table.to_pandas()
    return pd.DataFrame(table)
