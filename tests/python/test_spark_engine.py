"""Forecasting on Spark (var forecast_engine): the deterministic models give identical
forecasts on Spark and locally, Prophet runs through Spark, and the engine vars are checked.

The Spark tests start a real PySpark session in local mode (`local[2]`): a JVM plus Python
workers that import the package, as executors on a cluster would.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from conftest import PROJECT_DIR, free_port
from test_forecasting import daily_frame, panel_from, settings

from capacity_forecaster import engines
from capacity_forecaster.config import ConfigError, load_vars
from capacity_forecaster.engines.local import LOCAL, LocalEngine
from capacity_forecaster.engines.spark import SparkEngine
from capacity_forecaster.forecasting.backtest import local_forecast, run_backtest, run_cv, score, train_final
from capacity_forecaster.forecasting.settings import ForecastSettings

MASTER = "local[2]"
TREES = ("global_hgb", "random_forest", "gradient_boosting")
CV_MODELS = ["seasonal_naive", "moving_average", "global_hgb", "random_forest", "archetype_pooled"]


def fleet():
    """Three servers over 400 days; `db` has one series only (srv-1 lost its memory metric),
    so a group holds a lone series, and srv-2 starts 60 days before the end (cold start)."""
    daily = daily_frame(days=400, servers=3, short_server_days=60)
    return panel_from(daily[~((daily.server_id == "srv-1") & (daily.metric == "memory"))])


def deterministic(engine: str) -> ForecastSettings:
    """Every model but Prophet (baselines, random_forest, gradient_boosting, global_hgb), one
    thread per fit (random forest sums its trees in thread-completion order with more)."""
    local = settings(random_forest=True, gradient_boosting=True)
    return dataclasses.replace(local, engine=engine, spark_master=MASTER if engine == "spark" else None)


def every_step(panel, s: ForecastSettings) -> dict[str, pd.DataFrame]:
    """What the four forecasting Python models compute: backtest, CV, final fit + scoring."""
    quiet = lambda _: None  # noqa: E731
    trained = train_final(panel, s, quiet)
    return {
        "backtest": run_backtest(panel, s, quiet),
        "cv": run_cv(panel, s, CV_MODELS, quiet).drop(columns="fit_seconds"),  # wall clock
        "scored": score(panel, trained, s),
    }


def assert_identical(left: dict[str, pd.DataFrame], right: dict[str, pd.DataFrame]) -> None:
    models = {"seasonal_naive", "last_value", "moving_average", "archetype_pooled", *TREES}
    assert set(left["backtest"].model) == set(left["scored"].model) == models
    assert set(left["cv"].model) == set(CV_MODELS)
    for step, frame in left.items():
        assert len(frame) and frame.filter(regex="^(yhat_pct|mae)$").notna().all().all(), step
        pd.testing.assert_frame_equal(frame, right[step], check_exact=True, obj=step)


@pytest.fixture(scope="module")
def local_results():
    return every_step(fleet(), deterministic("local"))


@pytest.fixture(scope="module", autouse=True)
def stop_spark_sessions():
    yield
    engines.stop_engines()


@pytest.fixture
def spark_engine():
    """The local[2] session, started once per process (engine_for caches it) and again after the
    Spark Connect test stopped it."""
    if shutil.which("java") is None:
        pytest.skip("no `java` on PATH: `make test` installs a JRE (Debian default-jre-headless)")
    return engines.engine_for(deterministic("spark"))


@pytest.fixture(scope="module")
def spark_connect_url(tmp_path_factory):
    """A real Spark Connect server (the one in the PySpark package, local[2]) on a free port."""
    if shutil.which("java") is None:
        pytest.skip("no `java` on PATH: `make test` installs a JRE (Debian default-jre-headless)")
    import pyspark

    home = Path(pyspark.__file__).parent
    port = free_port()
    log = tmp_path_factory.mktemp("connect") / "server.log"
    env = {**os.environ, "SPARK_HOME": str(home), "PYSPARK_PYTHON": sys.executable}
    command = [
        str(home / "bin" / "spark-submit"),
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--master",
        MASTER,
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
        "--conf",
        "spark.ui.enabled=false",
    ]
    # PySpark refuses a Connect session while a classic one runs in the process.
    engines.stop_engines()
    with log.open("w") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url, saved = f"sc://127.0.0.1:{port}", dict(os.environ)
    try:
        deadline = time.monotonic() + 180
        while "Spark Connect server started" not in log.read_text():
            assert server.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "Spark Connect server did not start in 180 s"
            time.sleep(1)
        yield url
    finally:
        client = engines._ENGINES.pop((url, None), None)
        if client is not None:
            client.stop()
        # A Spark Connect session switches PySpark to Connect mode for the whole process (an
        # environment variable); later classic sessions need it gone.
        os.environ.clear()
        os.environ.update(saved)
        server.terminate()
        server.wait(timeout=60)


class InProcess(LocalEngine):
    """The local engine's map_groups taking the distributed path: the wire format and the
    group functions, without a JVM."""

    distributed = True
    parallelism = 2


def test_distributed_path_in_process_is_identical(monkeypatch, local_results):
    monkeypatch.setitem(engines._ENGINES, (None, MASTER), InProcess())
    assert_identical(local_results, every_step(fleet(), deterministic("spark")))


@pytest.mark.spark
def test_spark_forecasts_are_identical_to_local(spark_engine, local_results):
    """Backtest, CV, trained models' scores: every row and value (float64 bit for bit) equal,
    with the work done in Spark jobs."""
    assert isinstance(spark_engine, SparkEngine) and spark_engine.parallelism == 2
    tracker = spark_engine.session.sparkContext.statusTracker()
    jobs_before = len(tracker.getJobIdsForGroup())
    on_spark = every_step(fleet(), deterministic("spark"))
    # one job per fan-out: 3 baselines + pooled + 3 tree models at 3 origins, fits, CV, scoring
    assert len(tracker.getJobIdsForGroup()) - jobs_before >= 40
    assert_identical(local_results, on_spark)


@pytest.mark.spark
def test_prophet_runs_through_spark(spark_engine):
    """Prophet's fit is a Stan optimisation from fixed initial values, so its point forecast
    is reproduced to rounding; its own intervals come from predictive samples drawn with
    numpy's global random state (unseeded, per process), so the bounds only agree within
    sampling noise."""
    panel = panel_from(daily_frame(days=300, servers=1))  # two series: cpu and memory
    s = settings(prophet=True)
    origin = 250
    local_yhat, local_native = local_forecast("prophet", panel, origin, 28, s)
    tracker = spark_engine.session.sparkContext.statusTracker()
    jobs_before = len(tracker.getJobIdsForGroup())
    yhat, native = local_forecast(
        "prophet", panel, origin, 28, dataclasses.replace(s, engine="spark", spark_master=MASTER)
    )
    assert len(tracker.getJobIdsForGroup()) > jobs_before
    assert np.isfinite(yhat).all() and np.isfinite(native).all()
    np.testing.assert_allclose(yhat, local_yhat, rtol=1e-9)
    width = local_native[:, 3] - local_native[:, 2]  # the 95 % interval
    assert (np.abs(native - local_native) < 0.25 * width[:, None, :]).all()
    assert (native[:, 2] < yhat).all() and (yhat < native[:, 3]).all()


@pytest.mark.spark
def test_spark_connect_scores_identically(spark_connect_url, local_results):
    """The spark_remote path: a Spark Connect client session, no local JVM in this process;
    the final fit and scoring give the same forecasts as the local engine."""
    remote = dataclasses.replace(deterministic("spark"), spark_master=None, spark_remote=spark_connect_url)
    engine = engines.engine_for(remote)
    assert isinstance(engine, SparkEngine)
    assert type(engine.session).__module__.startswith("pyspark.sql.connect")
    panel = fleet()
    quiet = lambda _: None  # noqa: E731
    scored = score(panel, train_final(panel, remote, quiet), remote)
    pd.testing.assert_frame_equal(local_results["scored"], scored, check_exact=True)


def test_local_engine_keeps_the_local_path():
    engine = engines.engine_for(deterministic("local"))
    assert engine is LOCAL and not engine.distributed


def test_local_engine_groups_like_spark():
    frame = pd.DataFrame({"k": [2, 1, 2], "v": [1.0, 2.0, 3.0]})
    schema = pd.DataFrame({"k": [0], "total": [0.0]})
    out = LOCAL.map_groups(
        frame,
        ["k"],
        lambda g: pd.DataFrame({"k": [g.k.iloc[0]], "total": [g.v.sum()]}),
        pa.Schema.from_pandas(schema, preserve_index=False),
    )
    assert out.sort_values("k").to_dict("list") == {"k": [1, 2], "total": [2.0, 4.0]}


def test_spark_session_needs_exactly_one_source():
    with pytest.raises(ConfigError, match="exactly one of spark_remote"):
        SparkEngine.connect(remote=None, master=None)
    with pytest.raises(ConfigError, match="exactly one of spark_remote"):
        SparkEngine.connect(remote="sc://localhost:15002", master=MASTER)


def test_settings_require_the_engine_keys():
    raw = json_of(settings())
    del raw["engine"]
    with pytest.raises(ConfigError, match="'engine'"):
        ForecastSettings.from_json(raw)
    with pytest.raises(ConfigError, match="unknown forecast engine 'dask'"):
        ForecastSettings.from_json({**json_of(settings()), "engine": "dask"})


def json_of(s: ForecastSettings) -> dict:
    return dataclasses.asdict(s)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"forecast_engine": "dask"}, 'forecast_engine="dask" must be one of local, spark'),
        ({"forecast_engine": "spark"}, "forecast_engine=spark needs exactly one of spark_remote"),
        (
            {"forecast_engine": "spark", "spark_master": MASTER, "spark_remote": "sc://h:15002"},
            "needs exactly one of",
        ),
        ({"spark_master": "local[2]; rm -rf /"}, "spark_master=.* must be a Spark master"),
        ({"spark_master": "local[0]"}, "spark_master=.* must be a Spark master"),
        ({"spark_remote": "http://host:15002"}, "spark_remote=.* must be a Spark Connect URL"),
        ({"spark_remote": 15002}, "spark_remote=15002 must be a Spark Connect URL"),
    ],
)
def test_engine_vars_refused_with_a_clear_message(override, message):
    with pytest.raises(ConfigError, match=message):
        load_vars(PROJECT_DIR, override)


@pytest.mark.parametrize(
    "override",
    [
        {"forecast_engine": "spark", "spark_master": "local[2]"},
        {"forecast_engine": "spark", "spark_master": "local[*]"},
        {"forecast_engine": "spark", "spark_master": "spark://head-1:7077,head-2:7077"},
        {"forecast_engine": "spark", "spark_master": "yarn"},
        {"forecast_engine": "spark", "spark_remote": "sc://spark-connect.internal:15002"},
        {"forecast_engine": "spark", "spark_remote": "sc://host:443/;use_ssl=true;token=abc"},
    ],
)
def test_engine_vars_accepted(override):
    assert load_vars(PROJECT_DIR, override)["forecast_engine"] == "spark"
