"""The Spark engine: groups run in `groupBy(...).applyInPandas(...)` on a Spark session from
var `spark_remote` (Spark Connect, `sc://host:15002`) or var `spark_master` (`local[2]`,
`spark://host:7077`, `yarn`, `k8s://...`). Data goes in and comes back as Arrow.

The executors import the group functions by reference (cloudpickle), so they need the
capacity_forecaster package and its pinned dependencies (README "Forecasting at scale: Spark").
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import pandas as pd
import pyarrow as pa

from capacity_forecaster.config import ConfigError
from capacity_forecaster.engines import GroupFunc

APP_NAME = "capacity_forecaster"
# Set on sessions this engine builds with spark_master (a Spark Connect server has its own).
CLASSIC_CONF = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
}
# Runtime SQL settings, allowed on Spark Connect too. Model fits are CPU-bound on tiny inputs:
# adaptive execution would coalesce them into one or two partitions by size and serialise them.
SESSION_CONF = {
    "spark.sql.adaptive.coalescePartitions.enabled": "false",
}
PARTITIONS_PER_CORE = 4  # a few tasks per core, so one slow group does not idle the others


class SparkEngine:
    name = "spark"
    distributed = True

    def __init__(self, session: Any, parallelism: int) -> None:
        self.session = session
        self.parallelism = max(1, parallelism)
        for key, value in SESSION_CONF.items():
            session.conf.set(key, value)

    @classmethod
    def connect(cls, remote: str | None, master: str | None) -> SparkEngine:
        if bool(remote) == bool(master):
            raise ConfigError(
                "var forecast_engine=spark needs exactly one of spark_remote (Spark Connect URL) "
                f"or spark_master; got spark_remote={remote!r}, spark_master={master!r}"
            )
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:  # the `spark` extra is not installed
            raise ConfigError(
                "var forecast_engine=spark needs PySpark: pip install 'capacity-forecaster[spark]'"
            ) from exc
        builder: Any = SparkSession.builder.appName(APP_NAME)
        if remote:
            builder = builder.remote(remote)
        else:
            assert master is not None
            if master.startswith("local"):
                # Local mode starts its Python workers with PYSPARK_PYTHON, by default `python3`
                # on PATH, which need not be this interpreter (the project's virtualenv).
                os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            builder = builder.master(master)
            for key, value in CLASSIC_CONF.items():
                builder = builder.config(key, value)
        session = builder.getOrCreate()
        return cls(session, _parallelism(session))

    def map_groups(
        self, frame: pd.DataFrame, key_columns: Sequence[str], func: GroupFunc, output_schema: pa.Schema
    ) -> pd.DataFrame:
        from pyspark.sql.pandas.types import from_arrow_schema

        if frame.empty:
            return output_schema.empty_table().to_pandas()
        groups = len(frame.drop_duplicates(list(key_columns)))
        self.session.conf.set(
            "spark.sql.shuffle.partitions", str(max(1, min(groups, PARTITIONS_PER_CORE * self.parallelism)))
        )
        table = pa.Table.from_pandas(frame, preserve_index=False)
        result = (
            self.session.createDataFrame(table)
            .groupBy(*key_columns)
            .applyInPandas(func, schema=from_arrow_schema(output_schema))
            .toArrow()
        )
        return result.select(output_schema.names).cast(output_schema).to_pandas()

    def stop(self) -> None:
        self.session.stop()


def _parallelism(session: Any) -> int:
    """Cores of the cluster (classic: the scheduler's default parallelism); on Spark Connect,
    where the client cannot see the cluster, the server's shuffle partitions."""
    try:
        return int(session.sparkContext.defaultParallelism)
    except Exception:  # Spark Connect has no SparkContext
        return int(session.conf.get("spark.default.parallelism", None) or 0) or int(
            session.conf.get("spark.sql.shuffle.partitions")
        )
