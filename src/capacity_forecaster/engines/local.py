"""The local engine: everything in this process."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pandas as pd
import pyarrow as pa

from capacity_forecaster.engines import GroupFunc


def conform(parts: list[pd.DataFrame], output_schema: pa.Schema) -> pd.DataFrame:
    """Group results as one frame with exactly the schema's columns and types (via Arrow, the
    way Spark hands them back), so both engines return the same dtypes."""
    names = output_schema.names
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=names)
    return pa.Table.from_pandas(frame[names], schema=output_schema, preserve_index=False).to_pandas()


class LocalEngine:
    name = "local"
    distributed = False
    parallelism = os.cpu_count() or 1

    def map_groups(
        self, frame: pd.DataFrame, key_columns: Sequence[str], func: GroupFunc, output_schema: pa.Schema
    ) -> pd.DataFrame:
        groups = frame.groupby(list(key_columns), sort=True) if len(frame) else []
        return conform([func(group.reset_index(drop=True)) for _, group in groups], output_schema)


LOCAL = LocalEngine()
