"""Parquet exports, and the real Bitbrains slice imported straight from its raw columns (epoch
seconds, MHz and KB against capacity columns, KB/s sums against constants) from Parquet and
from CSV with one command each: same code path, same output."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import capfc

from capacity_forecaster.importers.errors import ImportInputError
from capacity_forecaster.importers.tabular import ImportOptions, MetricMapping, import_file

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "bitbrains_rnd_4vms_10days.parquet"
METRICS = ["cpu", "memory", "disk_io", "network"]
RAW_COLUMNS = [
    "--layout", "wide", "--timestamp-column", "timestamp_s", "--timestamp-format", "epoch-s",
    "--server-column", "vm_id",
    "--metric", "cpu=cpu_usage_mhz", "--unit", "cpu=MHz", "--capacity", "cpu=cpu_capacity_mhz",
    "--metric", "memory=memory_usage_kb", "--unit", "memory=KB", "--capacity", "memory=memory_capacity_kb",
    "--metric", "disk_io=disk_read_kbps+disk_write_kbps", "--unit", "disk_io=KB/s",
    "--capacity", "disk_io=500MB/s",
    "--metric", "network=network_rx_kbps+network_tx_kbps", "--unit", "network=KB/s",
    "--capacity", "network=1Gbit/s",
]  # fmt: skip


def contract(raw: Path) -> pd.DataFrame:
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        return con.sql(f"""select server_id, timestamp, cpu_p95, memory_p95, disk_io_p95, network_p95
            from read_parquet('{raw}/metrics/*/*.parquet') order by server_id, timestamp""").df()


def reference(frame: pd.DataFrame) -> pd.DataFrame:
    """The importer's definition, in pandas: percent per sample (capacity 0 -> missing), one
    sample per VM x timestamp (the highest values, metric by metric), linear P95 per UTC hour."""
    pct = pd.DataFrame(
        {
            "server_id": frame.vm_id,
            "ts": frame.timestamp_s,
            "cpu_p95": frame.cpu_usage_mhz / frame.cpu_capacity_mhz.where(frame.cpu_capacity_mhz > 0) * 100,
            "memory_p95": frame.memory_usage_kb
            / frame.memory_capacity_kb.where(frame.memory_capacity_kb > 0)
            * 100,
            "disk_io_p95": (frame.disk_read_kbps + frame.disk_write_kbps) * 1e3 / 500e6 * 100,
            "network_p95": (frame.network_rx_kbps + frame.network_tx_kbps) * 1e3 / 125e6 * 100,
        }
    )
    pct = pct.sort_values(["server_id", "ts", *(f"{m}_p95" for m in METRICS)], na_position="first")
    pct = pct.drop_duplicates(["server_id", "ts"], keep="last")
    pct["timestamp"] = pd.to_datetime(pct.ts, unit="s", utc=True).dt.floor("h")
    return pct.groupby(["server_id", "timestamp"])[[f"{m}_p95" for m in METRICS]].quantile(0.95).reset_index()


def test_real_slice_imports_from_raw_columns_from_parquet_and_csv(tmp_path):
    frame = pd.read_parquet(FIXTURE)
    csv = tmp_path / "bitbrains.csv"
    with duckdb.connect() as con:
        con.execute(f"copy (select * from '{FIXTURE}') to '{csv}' (header)")
    from_parquet = capfc("import", "parquet", str(FIXTURE), *RAW_COLUMNS, "--raw-root", str(tmp_path / "p"))
    from_csv = capfc("import", "csv", str(csv), *RAW_COLUMNS, "--raw-root", str(tmp_path / "c"))
    for done in (from_parquet, from_csv):
        out = done.stdout
        assert "14,895 rows, 59,580 measurements (5-minute samples;" in out, out
        assert "cpu MHz of cpu_capacity_mhz" in out and "network KB/s of 1Gbit/s" in out
        dups = len(frame) - len(frame.drop_duplicates(["vm_id", "timestamp_s"]))
        assert f"duplicates: {dups:,} samples" in out
        zero_memory = int((frame.memory_capacity_kb <= 0).sum())  # duplicates included, as read
        assert f"capacity: {zero_memory:,} memory samples have no usable capacity" in out
    parquet, csv_out = contract(tmp_path / "p"), contract(tmp_path / "c")
    pd.testing.assert_frame_equal(parquet, csv_out)  # one code path, whichever the format
    want = reference(frame)
    assert list(parquet.server_id) == list(want.server_id)
    for m in METRICS:
        np.testing.assert_allclose(parquet[f"{m}_p95"], want[f"{m}_p95"], rtol=1e-6, atol=1e-6)
    assert parquet.cpu_p95.max() > 100  # CPU above provisioned travels as it is
    assert parquet.memory_p95.isna().sum() == want.memory_p95.isna().sum() > 0  # capacity 0: left missing


def test_start_and_end_keep_the_history_part(tmp_path):
    options = ImportOptions(
        layout="wide",
        timestamp_column="timestamp_s",
        timestamp_format="epoch-s",
        server_column="vm_id",
        mappings={"cpu": MetricMapping("cpu", ("cpu_usage_mhz",), "MHz", "cpu_capacity_mhz")},
        start=pd.Timestamp("2013-07-03", tz="UTC").to_pydatetime(),
        end=pd.Timestamp("2013-07-08", tz="UTC").to_pydatetime(),
    )
    result = import_file(FIXTURE, tmp_path / "raw", options, METRICS)
    frame = pd.read_parquet(FIXTURE)
    inside = frame.timestamp_s.between(
        pd.Timestamp("2013-07-03").timestamp(), pd.Timestamp("2013-07-08").timestamp() - 1
    )
    assert result.rows == len(frame) and result.outside_window == int((~inside).sum())
    assert result.days == 5 and sorted(p.name for p in (tmp_path / "raw" / "metrics").iterdir()) == [
        f"date=2013-07-0{d}" for d in range(3, 8)
    ]
    assert any("no values for" in n for n in result.notes) is False  # only cpu was mapped
    # re-importing the same file with a narrower window removes its files for the other days
    narrower = import_file(
        FIXTURE, tmp_path / "raw", replace(options, end=options.start + dt.timedelta(days=2)), METRICS
    )
    assert narrower.replaced == 3 and narrower.days == 2
    assert sorted(p.name for p in (tmp_path / "raw" / "metrics").iterdir()) == [
        "date=2013-07-03",
        "date=2013-07-04",
    ]


def test_epoch_milliseconds_native_timestamps_and_text_numbers(tmp_path):
    ts = pd.date_range("2024-01-10 00:00", periods=24, freq="5min", tz="UTC")
    values = np.linspace(10, 33, 24)
    base = pd.DataFrame({"host": "a", "cpu": values})
    variants = {
        "ms": base.assign(t=(ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta("1ms")),
        "tz": base.assign(t=ts),
        "naive_kolkata": base.assign(t=ts.tz_convert("Asia/Kolkata").tz_localize(None)),
        "text": base.assign(t=ts.strftime("%Y-%m-%dT%H:%M:%S+00:00"), cpu=[f"{v:.6f}" for v in values]),
    }
    outputs = []
    for name, frame in variants.items():
        frame.to_parquet(tmp_path / f"{name}.parquet")
        options = ImportOptions(
            layout="wide",
            timestamp_column="t",
            server_column="host",
            timestamp_format="epoch-ms" if name == "ms" else "iso",
            timezone="Asia/Kolkata" if name == "naive_kolkata" else "UTC",
        )
        import_file(tmp_path / f"{name}.parquet", tmp_path / name, options, METRICS)
        outputs.append(contract(tmp_path / name))
    for other in outputs[1:]:
        pd.testing.assert_frame_equal(outputs[0], other, atol=1e-5)
    assert outputs[0].timestamp.tolist() == [
        pd.Timestamp("2024-01-10 00:00", tz="UTC"),
        pd.Timestamp("2024-01-10 01:00", tz="UTC"),
    ]

    bad = variants["text"].copy()
    bad.loc[[3, 7], "cpu"] = ["85,2", "high"]
    bad.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(
        ImportInputError, match=r"column 'cpu' has 2 value\(s\) that are not numbers, e.g. '85,2'"
    ):
        options = ImportOptions(layout="wide", timestamp_column="t", server_column="host")
        import_file(tmp_path / "bad.parquet", tmp_path / "bad", options, METRICS)
    assert not (tmp_path / "bad").exists()
    numeric_ts = capfc("import", "parquet", str(tmp_path / "ms.parquet"), "--layout", "wide",
                       "--timestamp-column", "t", "--server-column", "host",
                       "--raw-root", str(tmp_path / "x"), check=False)  # fmt: skip
    assert numeric_ts.returncode == 2 and "pass --timestamp-format epoch-s or epoch-ms" in numeric_ts.stderr
