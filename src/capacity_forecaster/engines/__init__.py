"""Where the per-series and per-group forecasting work runs.

The forecasting code fans out at a few places: Prophet and the baselines per series, the tree
models per archetype, scoring in partitions of series. `engine_for(settings)` picks the engine
from var `forecast_engine`:

* `local`: not distributed; those places keep their in-process path (vectorised numpy,
  joblib for Prophet), exactly as before engines existed.
* `spark`: `capacity_forecaster.engines.tasks` ships the same inputs as Arrow to Spark's
  `groupBy(...).applyInPandas(...)`, whose group functions call the very package functions the
  local path calls, and brings the results back as Arrow.

Both engines implement `map_groups`; the local one runs the groups in this process, which lets
tests check the Spark wire format without a JVM.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from capacity_forecaster.forecasting.settings import ForecastSettings

GroupFunc = Callable[["pd.DataFrame"], "pd.DataFrame"]


class Engine(Protocol):
    name: str
    distributed: bool  # False: callers keep their in-process path
    parallelism: int  # cores the engine can use at once (sizes the series partitions)

    def map_groups(
        self, frame: pd.DataFrame, key_columns: Sequence[str], func: GroupFunc, output_schema: pa.Schema
    ) -> pd.DataFrame:
        """func(rows of one group) for every group of `frame` by `key_columns`, concatenated
        (in no particular order) and cast to `output_schema`."""
        ...


_ENGINES: dict[tuple[str | None, str | None], Engine] = {}


def engine_for(settings: ForecastSettings) -> Engine:
    """The engine the settings ask for; a Spark session is made once per process and reused by
    every forecasting step (dbt runs the Python models in one process)."""
    from capacity_forecaster.engines.local import LOCAL

    if settings.engine != "spark":
        return LOCAL
    key = (settings.spark_remote, settings.spark_master)
    if key not in _ENGINES:
        from capacity_forecaster.engines.spark import SparkEngine

        _ENGINES[key] = SparkEngine.connect(remote=settings.spark_remote, master=settings.spark_master)
    return _ENGINES[key]


def stop_engines() -> None:
    """Stop the Spark sessions this process started (tests, benchmarks)."""
    while _ENGINES:
        _, engine = _ENGINES.popitem()
        stop = getattr(engine, "stop", None)
        if stop is not None:
            stop()
