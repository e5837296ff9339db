"""CSV exports into the raw contract: layouts, sampling intervals, timezones, units - and a
five-week import that runs the whole pipeline end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import capfc, isolated_env

from capacity_forecaster.importers.csv_import import CsvImportError, import_csv

RNG = np.random.default_rng(3)


def datadog_like_wide(path, days: int = 35, hosts=("web-01", "db-01", "batch-01"), freq="5min"):
    """A monitoring-tool export: local time with offsets, tool-specific column names."""
    ts = pd.date_range(
        "2024-03-04", periods=int(pd.Timedelta(days=days) / pd.Timedelta(freq)), freq=freq, tz="Europe/Berlin"
    )
    frames = []
    for i, host in enumerate(hosts):
        daily = 35 + 10 * i + 15 * np.sin(2 * np.pi * (ts.hour + ts.minute / 60) / 24)
        frames.append(
            pd.DataFrame(
                {
                    "time": ts.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "host": host,
                    "system.cpu.pct": daily + RNG.normal(0, 2, len(ts)),
                    "system.mem.pct": 50 + RNG.normal(0, 1, len(ts)),
                    "system.disk.pct": 20 + RNG.normal(0, 2, len(ts)),
                    "system.net.pct": daily / 2,
                }
            )
        )
    frame = pd.concat(frames)
    frame.to_csv(path, index=False)
    return frame


WIDE_MAP = {
    "cpu": "system.cpu.pct",
    "memory": "system.mem.pct",
    "disk_io": "system.disk.pct",
    "network": "system.net.pct",
}


def test_wide_five_minute_export_resampled_to_hourly_p95(tmp_path):
    frame = datadog_like_wide(tmp_path / "export.csv", days=3)
    result = import_csv(
        tmp_path / "export.csv",
        tmp_path / "raw",
        layout="wide",
        timestamp_column="time",
        server_column="host",
        metric_map=WIDE_MAP,
    )
    assert result.rows_in == len(frame) * 4 and result.sampling_minutes == 5.0
    assert result.hourly_rows == 3 * 3 * 24  # 3 hosts x 72 hours (shifted to UTC, still 72 buckets)
    written = pd.read_parquet(tmp_path / "raw" / "metrics")
    ts = pd.to_datetime(frame["time"], utc=True)
    one = frame[(frame.host == "web-01") & (ts.dt.floor("h") == pd.Timestamp("2024-03-05 10:00", tz="UTC"))]
    expected = np.percentile(one["system.cpu.pct"], 95)  # linear, like quantile_cont
    got = written[
        (written.server_id == "web-01") & (written.timestamp == pd.Timestamp("2024-03-05 10:00", tz="UTC"))
    ].cpu_p95.iloc[0]
    assert got == pytest.approx(expected, abs=1e-4)  # float32 in the contract
    inventory = pd.read_parquet(tmp_path / "raw" / "inventory" / "servers.parquet")
    assert set(inventory.server_id) == {"web-01", "db-01", "batch-01"}


def test_long_hourly_fractions_in_local_time(tmp_path):
    ts = pd.date_range("2024-06-01", periods=48, freq="h")
    long = pd.DataFrame(
        {
            "ts": np.repeat(ts.strftime("%Y-%m-%d %H:%M:%S"), 2),
            "node": "app-01",
            "name": np.tile(["cpu", "mem"], 48),
            "v": np.tile([0.25, 0.5], 48),
        }
    )
    long.to_csv(tmp_path / "long.csv", index=False)
    with pytest.warns(UserWarning, match="reading them as fractions"):
        result = import_csv(
            tmp_path / "long.csv",
            tmp_path / "raw",
            timestamp_column="ts",
            server_column="node",
            metric_column="name",
            value_column="v",
            metric_map={"memory": "mem"},
            timezone="America/New_York",
        )
    assert result.units == "fraction" and result.sampling_minutes == 60.0
    written = pd.read_parquet(tmp_path / "raw" / "metrics")
    assert written.timestamp.min() == pd.Timestamp("2024-06-01 04:00", tz="UTC")  # EDT = UTC-4
    assert set(written.cpu_p95.round(3)) == {25.0} and set(written.memory_p95.round(3)) == {50.0}
    assert written.disk_io_p95.isna().all()  # absent metrics stay missing (quarantined later)


def test_one_minute_samples_and_explicit_percent(tmp_path):
    datadog_like_wide(tmp_path / "m.csv", days=1, hosts=("h1",), freq="1min")
    result = import_csv(
        tmp_path / "m.csv",
        tmp_path / "raw",
        layout="wide",
        timestamp_column="time",
        server_column="host",
        metric_map=WIDE_MAP,
        units="percent",
    )
    assert result.sampling_minutes == 1.0 and result.hourly_rows == 24


def test_clear_errors_name_the_file_and_column(tmp_path):
    pd.DataFrame(
        {"timestamp": ["2024-01-01T00:00:00Z", "not a time"], "server_id": "a", "metric": "cpu", "value": 1}
    ).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(CsvImportError, match=r"bad.csv: column 'timestamp' has 1 unreadable"):
        import_csv(tmp_path / "bad.csv", tmp_path / "raw")
    pd.DataFrame({"when": ["2024-01-01"], "server_id": "a"}).to_csv(tmp_path / "cols.csv", index=False)
    with pytest.raises(CsvImportError, match=r"cols.csv: missing column\(s\) \['timestamp'"):
        import_csv(tmp_path / "cols.csv", tmp_path / "raw")


@pytest.mark.dbt
def test_five_weeks_imported_run_end_to_end(tmp_path):
    datadog_like_wide(tmp_path / "export.csv", days=35)
    raw = tmp_path / "raw"
    done = capfc(
        "import",
        "csv",
        str(tmp_path / "export.csv"),
        "--layout",
        "wide",
        "--timestamp-column",
        "time",
        "--server-column",
        "host",
        *[a for m, n in WIDE_MAP.items() for a in ("--metric", f"{m}={n}")],
        "--raw-root",
        str(raw),
    )
    assert "hourly rows for 3 servers" in done.stdout
    env = isolated_env(tmp_path)
    capfc("--vars", "{eda_pattern_severity: warn}", "build", "--raw-root", str(raw), env=env)
    import duckdb

    with duckdb.connect(str(tmp_path / "warehouse" / "capacity_forecaster.duckdb"), read_only=True) as con:
        rows_read = con.sql("select sum(rows_read) from main_marts.fct_load_reconciliation").fetchone()[0]
        horizon, series, low = con.sql("""select max(horizon_days), count(distinct (server_id, metric)),
            bool_and(is_low_confidence) from main_marts.fct_forecasts where is_champion""").fetchone()
        classes = con.sql("select count(*) from main_marts.fct_server_risk").fetchone()[0]
    assert rows_read == 3 * 35 * 24 and series == 12
    assert horizon == 18  # half of the 36 UTC days of history (local midnight is 23:00 UTC), not 90
    assert low and classes == 3 * 2
