"""CSV exports into the raw contract: layouts, sampling intervals, timezones and DST, units and
capacities, bad values, lossless file naming - and imported servers without sizes run end to
end (consolidation says "size unknown")."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import WAREHOUSE_ONLY, capfc, isolated_env

from capacity_forecaster.importers.errors import ImportInputError
from capacity_forecaster.importers.tabular import ImportOptions, MetricMapping, import_file

RNG = np.random.default_rng(3)
METRICS = ["cpu", "memory", "disk_io", "network"]
WIDE_MAP = {
    "cpu": "system.cpu.pct",
    "memory": "system.mem.pct",
    "disk_io": "system.disk.pct",
    "network": "system.net.pct",
}
WIDE_ARGS = [
    "--layout", "wide", "--timestamp-column", "time", "--server-column", "host",
    *[a for m, n in WIDE_MAP.items() for a in ("--metric", f"{m}={n}")],
]  # fmt: skip


def datadog_like_wide(path, days=35, hosts=("web-01", "db-01", "batch-01"), freq="5min", tz="Europe/Berlin",
                      start="2024-03-04", offsets=True, level=35.0, amplitude=15.0):  # fmt: skip
    """A monitoring-tool export: local time (with offsets, or naive), tool column names."""
    ts = pd.date_range(start, periods=int(pd.Timedelta(days=days) / pd.Timedelta(freq)), freq=freq, tz=tz)
    frames = []
    for i, host in enumerate(hosts):
        daily = level + 10 * i + amplitude * np.sin(2 * np.pi * (ts.hour + ts.minute / 60) / 24)
        frames.append(
            pd.DataFrame(
                {
                    "time": ts.strftime("%Y-%m-%dT%H:%M:%S%z" if offsets else "%Y-%m-%d %H:%M:%S"),
                    "host": host,
                    "system.cpu.pct": daily + RNG.normal(0, 2, len(ts)),
                    "system.mem.pct": level + 15 + RNG.normal(0, 1, len(ts)),
                    "system.disk.pct": 20 + RNG.normal(0, 2, len(ts)),
                    "system.net.pct": daily / 2,
                    "utc": ts.tz_convert("UTC"),
                }
            )
        )
    frame = pd.concat(frames)
    frame.drop(columns="utc").to_csv(path, index=False)
    return frame


def options(**kw) -> ImportOptions:
    base = dict(layout="wide", timestamp_column="time", server_column="host")
    base["mappings"] = {m: MetricMapping(m, (n,)) for m, n in WIDE_MAP.items()}
    return ImportOptions(**(base | kw))


def hourly_p95(frame: pd.DataFrame, column: str) -> pd.Series:
    """Reference: linear-interpolation P95 (as quantile_cont) per host x UTC hour."""
    return frame.groupby(["host", frame.utc.dt.floor("h")])[column].quantile(0.95)


def read_contract(raw: Path) -> pd.DataFrame:
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        return con.sql(f"""select filename, "date", server_id, timestamp, cpu_p95, memory_p95,
                disk_io_p95, network_p95
            from read_parquet('{raw}/metrics/*/*.parquet', hive_partitioning = true, filename = true)
            order by server_id, timestamp""").df()


def test_wide_five_minute_export_resampled_to_hourly_p95(tmp_path):
    frame = datadog_like_wide(tmp_path / "export.csv", days=3)
    result = import_file(tmp_path / "export.csv", tmp_path / "raw", options(), METRICS)
    assert result.rows == len(frame) and result.measurements == len(frame) * 4
    assert result.sampling_minutes == 5.0
    assert result.hourly_rows == 3 * 3 * 24  # 3 hosts x 72 hours (shifted to UTC, still 72 buckets)
    written = read_contract(tmp_path / "raw").set_index(["server_id", "timestamp"])
    expected = hourly_p95(frame, "system.cpu.pct")
    np.testing.assert_allclose(written.cpu_p95.to_numpy(), expected.to_numpy(), atol=1e-4)  # float32
    inventory = pd.read_parquet(tmp_path / "raw" / "inventory" / "servers.parquet")
    assert set(inventory.server_id) == {"web-01", "db-01", "batch-01"}
    assert inventory.vcpus.isna().all() and "owner" in inventory.columns  # sizes unknown, optional columns


def test_long_hourly_fractions_in_local_time(tmp_path):
    ts = pd.date_range("2024-06-01", periods=48, freq="h")
    long = pd.DataFrame(
        {
            "ts": np.repeat(ts.strftime("%Y-%m-%d %H:%M:%S"), 3),
            "node": "app-01",
            "name": np.tile(["cpu", "mem", "temperature"], 48),
            "v": np.tile([0.25, 0.5, 41.0], 48),
        }
    )
    long.to_csv(tmp_path / "long.csv", index=False)
    result = import_file(
        tmp_path / "long.csv",
        tmp_path / "raw",
        ImportOptions(
            timestamp_column="ts",
            server_column="node",
            metric_column="name",
            value_column="v",
            mappings={"memory": MetricMapping("memory", ("mem",))},
            timezone="America/New_York",
        ),
        METRICS,
    )
    assert result.units == {"cpu": "fraction", "memory": "fraction"} and result.sampling_minutes == 60.0
    assert any("read as fractions" in n for n in result.notes)
    assert result.rows == 144 and result.measurements == 96 and result.unmapped_rows == 48  # reported
    written = read_contract(tmp_path / "raw")
    assert written.timestamp.min() == pd.Timestamp("2024-06-01 04:00", tz="UTC")  # EDT = UTC-4
    assert set(written.cpu_p95.round(3)) == {25.0} and set(written.memory_p95.round(3)) == {50.0}
    assert written.disk_io_p95.isna().all()  # absent metrics stay missing (quarantined later)


def test_one_minute_samples_and_explicit_percent(tmp_path):
    datadog_like_wide(tmp_path / "m.csv", days=1, hosts=("h1",), freq="1min")
    result = import_file(tmp_path / "m.csv", tmp_path / "raw", options(), METRICS)
    assert result.sampling_minutes == 1.0 and result.hourly_rows == 24


def test_clear_errors_name_the_file_and_column(tmp_path):
    pd.DataFrame(
        {"timestamp": ["2024-01-01T00:00:00Z", "not a time"], "server_id": "a", "metric": "cpu", "value": 1}
    ).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(
        ImportInputError, match=r"bad.csv: column 'timestamp' has 1 unreadable .* 'not a time'"
    ):
        import_file(tmp_path / "bad.csv", tmp_path / "raw", ImportOptions(), METRICS)
    pd.DataFrame({"when": ["2024-01-01"], "server_id": "a"}).to_csv(tmp_path / "cols.csv", index=False)
    with pytest.raises(ImportInputError, match=r"cols.csv: no column 'timestamp' \(timestamp\); columns: "):
        import_file(tmp_path / "cols.csv", tmp_path / "raw", ImportOptions(), METRICS)
    assert not (tmp_path / "raw").exists()  # nothing written


@pytest.mark.dbt
def test_berlin_and_kolkata_naive_exports_land_in_utc_partitions(tmp_path):
    """Naive local timestamps: hours and partitions are UTC (Berlin across the spring DST
    change, Kolkata at +05:30 where a local hour spans two UTC hours); the quality gate
    quarantines nothing."""
    raw = tmp_path / "raw"
    frames = []
    for tz, hosts in (("Europe/Berlin", ("ber-1", "ber-2")), ("Asia/Kolkata", ("del-1",))):
        path = tmp_path / f"{tz.split('/')[1].lower()}.csv"
        frame = datadog_like_wide(path, days=4, hosts=hosts, tz=tz, start="2024-03-29", offsets=False)
        done = capfc("import", "csv", str(path), *WIDE_ARGS, "--timezone", tz, "--raw-root", str(raw))
        assert "ambiguous" not in done.stdout  # a real export has no local times in the gap
        frames.append(frame)
    frame = pd.concat(frames)
    written = read_contract(raw)
    assert (written.timestamp.dt.tz_convert("UTC").dt.date == written.date.dt.date).all()
    got = written.set_index(["server_id", "timestamp"]).cpu_p95
    want = hourly_p95(frame, "system.cpu.pct")
    want.index = want.index.set_names(["server_id", "timestamp"])
    assert got.index.equals(want.index.sort_values())
    np.testing.assert_allclose(got.to_numpy(), want.sort_index().to_numpy(), atol=1e-4)
    # Berlin moved to +02:00 on 2024-03-31: 96 real hours from local midnight (23:00 UTC)
    ber = written[written.server_id == "ber-1"]
    assert ber.timestamp.min() == pd.Timestamp("2024-03-28 23:00", tz="UTC")
    assert ber.timestamp.max() == pd.Timestamp("2024-04-01 22:00", tz="UTC") and len(ber) == 96
    assert written[written.server_id == "del-1"].timestamp.min() == pd.Timestamp("2024-03-28 18:00", tz="UTC")

    work = tmp_path / "build"
    capfc("--vars", "{eda_pattern_severity: warn}", "build", "--raw-root", str(raw), *WAREHOUSE_ONLY,
          env=isolated_env(work))  # fmt: skip
    with duckdb.connect(str(work / "warehouse" / "capacity_forecaster.duckdb"), read_only=True) as con:
        quarantined = con.sql("select count(*) from main_marts.fct_quarantined_measurements").fetchone()[0]
        read, accepted = con.sql(
            "select sum(rows_read), sum(measurements_accepted) from main_marts.fct_load_reconciliation"
        ).fetchone()
    assert quarantined == 0 and read == len(written) and accepted == 4 * len(written)


def test_dst_ambiguous_and_nonexistent_are_counted_and_resolved(tmp_path):
    """A logger writing naive wall-clock time every 5 minutes: in autumn 02:00-02:55 comes
    twice (ambiguous), in spring a broken clock writes the skipped 02:00-02:55 (nonexistent)."""
    rows = []
    for day in ("2024-03-31", "2024-10-27"):
        for minutes in range(0, 6 * 60, 5):
            local = pd.Timestamp(day) + pd.Timedelta(minutes=minutes)
            repeats = 2 if day == "2024-10-27" and local.hour == 2 else 1
            rows += [
                {"time": local.strftime("%Y-%m-%d %H:%M:%S"), "host": "h", "cpu": 10.0 + r}
                for r in range(repeats)
            ]
    pd.DataFrame(rows).to_csv(tmp_path / "dst.csv", index=False)
    done = capfc("import", "csv", str(tmp_path / "dst.csv"), "--layout", "wide", "--timestamp-column",
                 "time", "--server-column", "host", "--timezone", "Europe/Berlin",
                 "--raw-root", str(tmp_path / "raw"))  # fmt: skip
    assert (
        "24 ambiguous local times read as the first occurrence, 12 nonexistent local times shifted"
        in done.stdout
    )
    # the repeated autumn hour folds onto its first occurrence, the spring 02:xx onto the real
    # 03:xx (both 01:xx UTC): 12 + 12 samples repeat a timestamp
    assert "duplicates: 24 samples" in done.stdout and "11 hourly rows" in done.stdout
    written = read_contract(tmp_path / "raw").set_index("timestamp").cpu_p95
    utc = lambda text: pd.Timestamp(text, tz="UTC")  # noqa: E731
    # spring: 02:xx (nonexistent) read as 03:xx CEST = 01:xx UTC, like the real 03:xx...
    assert utc("2024-03-31 01:00") in written.index and utc("2024-03-31 00:00") in written.index
    # autumn: 02:xx read as the first occurrence, CEST (+02:00) = 00:xx UTC; the copies that
    # differ keep the highest value (11.0); 01:xx UTC (the second occurrence) has no samples
    assert written[utc("2024-10-27 00:00")] == 11.0
    assert utc("2024-10-27 01:00") not in written.index and utc("2024-10-27 02:00") in written.index


def test_unknown_timezone_and_bad_options_are_one_line_exit_2(tmp_path):
    datadog_like_wide(tmp_path / "e.csv", days=1, hosts=("h",), offsets=False)
    for args, message in (
        (["--timezone", "Mars/Olympus"], "--timezone 'Mars/Olympus': unknown time zone"),
        (["--metric", "cpu=nope"], "no column 'nope' (metric cpu)"),
        (["--metric", "gpu=system.cpu.pct"], "--metric gpu: not a metric"),
        (["--unit", "cpu=MHz"], "metric cpu is in MHz (an absolute unit): give its capacity"),
        (["--capacity", "cpu=1Gbit/s"], "metric cpu has a capacity: declare the unit"),
        (["--unit", "cpu=KB/s", "--capacity", "cpu=2GHz"], "values in KB/s cannot be compared"),
        (["--unit", "cpu=kbps"], "unknown unit 'kbps'"),
        (["--start", "yesterday"], "--start must be an ISO date"),
    ):
        # A case that maps cpu itself replaces the default mapping (a metric given twice is its own error).
        i = WIDE_ARGS.index(f"cpu={WIDE_MAP['cpu']}")
        base = WIDE_ARGS if "cpu=nope" not in args else WIDE_ARGS[: i - 1] + WIDE_ARGS[i + 1 :]
        done = capfc("import", "csv", str(tmp_path / "e.csv"), *base, *args,
                     "--raw-root", str(tmp_path / "raw"), check=False)  # fmt: skip
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "raw" / "metrics").exists()


def test_same_named_files_survive_reimport_is_idempotent_overlaps_reported(tmp_path):
    raw = tmp_path / "raw"
    for folder, hosts in (("a", ("web-01",)), ("b", ("db-01",))):
        (tmp_path / folder).mkdir()
        datadog_like_wide(tmp_path / folder / "metrics.csv", days=2, hosts=hosts)
        capfc("import", "csv", str(tmp_path / folder / "metrics.csv"), *WIDE_ARGS, "--raw-root", str(raw))
    first = read_contract(raw)
    assert set(first.server_id) == {"web-01", "db-01"}  # the second file did not replace the first
    assert first.groupby("server_id").filename.nunique().eq(3).all()  # 3 UTC days each, own files
    again = capfc("import", "csv", str(tmp_path / "a" / "metrics.csv"), *WIDE_ARGS, "--raw-root", str(raw))
    assert "(0 new in the inventory)" in again.stdout and "overlap" not in again.stdout
    pd.testing.assert_frame_equal(read_contract(raw), first)  # same files, same rows: idempotent
    # a third export of the same servers and hours: kept, and the overlap is reported
    (tmp_path / "c").mkdir()
    datadog_like_wide(tmp_path / "c" / "metrics.csv", days=1, hosts=("web-01",), freq="10min")
    third = capfc("import", "csv", str(tmp_path / "c" / "metrics.csv"), *WIDE_ARGS, "--raw-root", str(raw))
    assert "overlap: 24 server-hours are also in import-metrics-" in third.stdout
    assert len(read_contract(raw)) == len(first) + 24
    inventory = pd.read_parquet(raw / "inventory" / "servers.parquet")
    assert sorted(inventory.server_id) == ["db-01", "web-01"]


def test_unparseable_values_stop_the_import_and_decimal_comma(tmp_path):
    frame = datadog_like_wide(tmp_path / "x.csv", days=1, hosts=("h",))
    frame["system.mem.pct"] = frame["system.mem.pct"].round(1).astype(str)
    frame.iloc[[5, 9, 20], frame.columns.get_loc("system.mem.pct")] = ["n/a", "-", "n/a"]
    frame.drop(columns="utc").to_csv(tmp_path / "x.csv", index=False)
    done = capfc("import", "csv", str(tmp_path / "x.csv"), *WIDE_ARGS, "--raw-root", str(tmp_path / "raw"),
                 check=False)  # fmt: skip
    assert done.returncode == 2
    assert (
        f"{tmp_path / 'x.csv'}: column 'system.mem.pct' has 3 value(s) that are not numbers, e.g. 'n/a'"
        in (done.stderr)
    )
    assert "nothing was imported" in done.stderr and not (tmp_path / "raw").exists()
    # an export with decimal commas (and ; as separator, as such exports have)
    comma = datadog_like_wide(tmp_path / "c.csv", days=1, hosts=("h",))
    comma.drop(columns="utc").to_csv(tmp_path / "c.csv", index=False, sep=";", decimal=",")
    refused = capfc("import", "csv", str(tmp_path / "c.csv"), *WIDE_ARGS, "--raw-root", str(tmp_path / "raw"),
                    check=False)  # fmt: skip
    assert refused.returncode == 2 and "(decimal commas? pass --decimal-comma)" in refused.stderr
    capfc("import", "csv", str(tmp_path / "c.csv"), *WIDE_ARGS, "--decimal-comma", "--raw-root",
          str(tmp_path / "raw"))  # fmt: skip
    got = read_contract(tmp_path / "raw").set_index("timestamp").cpu_p95
    np.testing.assert_allclose(got.to_numpy(), hourly_p95(comma, "system.cpu.pct").to_numpy(), atol=1e-4)


def test_capacity_from_a_column_the_inventory_and_a_constant(tmp_path):
    """Absolute units become percent of a capacity; capacity 0 or missing is counted and
    left missing; values above 100 % (CPU above provisioned) are kept as they are."""
    raw = tmp_path / "raw"
    ts = pd.date_range("2024-05-01", periods=24, freq="5min", tz="UTC")  # two hours
    frame = pd.DataFrame(
        {
            "ts": np.tile(ts.strftime("%Y-%m-%dT%H:%M:%SZ"), 2),
            "vm": np.repeat(["a", "b"], len(ts)),
            "cpu_mhz": 1200.0,
            "cpu_cap_mhz": np.r_[np.full(len(ts), 2400.0), np.full(12, 1000.0), np.full(12, 0.0)],
            "mem_kib": 4 * 1024**2,  # 4 GiB in KiB
            "read_kbps": 1000.0,
            "write_kbps": 1500.0,
            "rx_kbps": 25_000.0,
            "tx_kbps": 0.0,
        }
    )
    frame.to_csv(tmp_path / "abs.csv", index=False)
    args = [
        "import", "csv", str(tmp_path / "abs.csv"), "--layout", "wide", "--timestamp-column", "ts",
        "--server-column", "vm",
        "--metric", "cpu=cpu_mhz", "--unit", "cpu=MHz", "--capacity", "cpu=cpu_cap_mhz",
        "--metric", "memory=mem_kib", "--unit", "memory=KiB", "--capacity", "memory=inventory",
        "--metric", "disk_io=read_kbps+write_kbps", "--unit", "disk_io=KB/s",
        "--capacity", "disk_io=inventory",
        "--metric", "network=rx_kbps+tx_kbps", "--unit", "network=KB/s", "--capacity", "network=1Gbit/s",
        "--raw-root", str(raw),
    ]  # fmt: skip
    first = capfc(*args)  # servers not in the inventory yet: no capacity for memory and disk_io
    assert "capacity: 48 memory samples have no usable capacity" in first.stdout
    assert "capacity: 12 cpu samples have no usable capacity" in first.stdout
    (tmp_path / "sizes.csv").write_text("server_id,memory_gb,disk_mbps,owner\na,16,250,team-a\nb,8,,team-b\n")
    sized = capfc("import", "inventory", str(tmp_path / "sizes.csv"), "--raw-root", str(raw))
    assert "2 servers updated, 0 added" in sized.stdout
    second = capfc(*args)  # re-import: capacities now come from the inventory
    assert "memory samples" not in second.stdout and "capacity: 24 disk_io samples" in second.stdout
    got = read_contract(raw).set_index(["server_id", "timestamp"])
    hour0, hour1 = pd.Timestamp("2024-05-01 00:00", tz="UTC"), pd.Timestamp("2024-05-01 01:00", tz="UTC")
    assert got.loc[("a", hour0), "cpu_p95"] == pytest.approx(50.0)  # 1200 / 2400 MHz
    assert got.loc[("b", hour0), "cpu_p95"] == pytest.approx(120.0)  # above provisioned: kept
    assert np.isnan(got.loc[("b", hour1), "cpu_p95"])  # capacity 0: not converted, not invented
    assert got.loc[("a", hour0), "memory_p95"] == pytest.approx(25.0)  # 4 of 16 GiB
    assert got.loc[("b", hour0), "memory_p95"] == pytest.approx(50.0)
    assert got.loc[("a", hour0), "disk_io_p95"] == pytest.approx(1.0)  # 2,500 KB/s of 250 MB/s
    assert np.isnan(got.loc[("b", hour0), "disk_io_p95"])  # b has no disk_mbps
    assert got.loc[("a", hour0), "network_p95"] == pytest.approx(20.0)  # 25,000 KB/s of 1 Gbit/s
    assert len(got) == 4  # the re-import replaced its own files


def test_sql_in_metric_mapping_is_harmless(tmp_path):
    """Mapping values are quoted identifiers or bound parameters, never SQL."""
    quoted = 'cpu "busy", it\'s'
    ts = pd.date_range("2024-05-01", periods=12, freq="5min", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    pd.DataFrame({"timestamp": ts, "server_id": "s", quoted: 42.0}).to_csv(tmp_path / "q.csv", index=False)
    attack = "cpu=x\" from read_csv('/etc/passwd'); drop table hourly; --"
    done = capfc("import", "csv", str(tmp_path / "q.csv"), "--layout", "wide", "--metric", attack,
                 "--raw-root", str(tmp_path / "raw"), check=False)  # fmt: skip
    assert done.returncode == 2 and "no column 'x\" from read_csv(" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    capfc("import", "csv", str(tmp_path / "q.csv"), "--layout", "wide", "--metric", f"cpu={quoted}",
          "--raw-root", str(tmp_path / "raw"))  # fmt: skip
    assert read_contract(tmp_path / "raw").cpu_p95.tolist() == [42.0]
    # long layout: metric names are bound parameters
    pd.DataFrame({"timestamp": ts, "server_id": "s", "metric": "it's' or '1'='1", "value": 7.0}).to_csv(
        tmp_path / "l.csv", index=False
    )
    capfc("import", "csv", str(tmp_path / "l.csv"), "--metric", "memory=it's' or '1'='1",
          "--raw-root", str(tmp_path / "raw2"))  # fmt: skip
    long = read_contract(tmp_path / "raw2")
    assert long.memory_p95.tolist() == [7.0] and long.cpu_p95.isna().all()


def test_generate_refuses_a_raw_root_with_imported_data(tmp_path):
    raw = tmp_path / "raw"
    datadog_like_wide(tmp_path / "e.csv", days=1, hosts=("h",))
    capfc("import", "csv", str(tmp_path / "e.csv"), *WIDE_ARGS, "--raw-root", str(raw))
    before = sorted(p.relative_to(raw) for p in raw.rglob("*.parquet"))
    for command in (["generate"], ["run", "--regenerate"]):
        refused = capfc(*command, "--servers", "2", "--days", "3", "--raw-root", str(raw), check=False)
        assert refused.returncode == 2 and "pass --force to replace them" in refused.stderr
        assert sorted(p.relative_to(raw) for p in raw.rglob("*.parquet")) == before  # untouched
    capfc("--vars", f"{{truth_root: {tmp_path / 'truth'}}}", "generate", "--servers", "2", "--days", "3",
          "--future-days", "0", "--raw-root", str(raw), "--force")  # fmt: skip
    assert not list(raw.glob("metrics/*/import-*.parquet"))


@pytest.mark.dbt
def test_imported_servers_without_sizes_run_end_to_end(tmp_path):
    """Five weeks of a 5-minute export, no sizes in the inventory: the full build (forecasts,
    risk, consolidation) publishes; consolidation says "size unknown"; short-history rules hold."""
    datadog_like_wide(
        tmp_path / "export.csv",
        days=35,
        hosts=("web-01", "db-01", "batch-01", "app-01"),
        level=12,
        amplitude=5,
    )
    raw = tmp_path / "raw"
    done = capfc("import", "csv", str(tmp_path / "export.csv"), *WIDE_ARGS, "--raw-root", str(raw))
    assert "hourly rows for 4 servers" in done.stdout
    env = isolated_env(tmp_path)
    capfc("--vars", "{eda_pattern_severity: warn}", "build", "--raw-root", str(raw), env=env)
    with duckdb.connect(str(tmp_path / "warehouse" / "capacity_forecaster.duckdb"), read_only=True) as con:
        rows_read = con.sql("select sum(rows_read) from main_marts.fct_load_reconciliation").fetchone()[0]
        horizon, series, models = con.sql("""select max(horizon_days), count(distinct (server_id, metric)),
            list(distinct model) from main_marts.fct_forecasts where is_champion""").fetchone()
        champions = con.sql("""select champion_model, validation_mae_ratio_vs_moving_average,
            n_validation_servers, n_validation_origins from main_marts.fct_forecast_champions""").df()
        groups = con.sql("""select count(*), bool_or(is_size_known), min(recommendation),
            count(hosts_needed) from main_marts.fct_consolidation_groups""").fetchone()
    assert rows_read == 4 * 35 * 24 and series == 16
    assert horizon == 18  # half of the 36 UTC days of history (local midnight is 23:00 UTC), not 90
    # the champions say how thin their evidence is (4 servers, one validation origin), and a
    # challenger is used only where it beat the 28-day mean by champion_min_gain on all of them
    assert set(models) <= set(champions.champion_model) and len(champions)
    assert (champions.n_validation_servers <= 4).all() and (champions.n_validation_origins == 1).all()
    challengers = champions[champions.champion_model != "moving_average"]
    assert (challengers.validation_mae_ratio_vs_moving_average <= 0.95).all()
    assert groups[0] >= 2 and groups[1] is False and groups[3] == 0
    assert "size unknown for" in groups[2] and "capfc import inventory" in groups[2]


def test_long_layout_sums_names_and_counts_duplicates(tmp_path):
    """Long exports: `disk_io=disk.read+disk.write` sums two metric names per sample; a
    repeated (server, timestamp, name) row is counted and kept once."""
    ts = pd.date_range("2024-05-01", periods=12, freq="5min", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = [(t, "s", name, v) for t in ts for name, v in (("disk.read", 100.0), ("disk.write", 150.0))]
    rows += [(ts[0], "s", "disk.read", 100.0), (ts[1], "s", "cpu", 12.5)]  # a duplicate; one cpu sample
    pd.DataFrame(rows, columns=["timestamp", "server_id", "metric", "value"]).to_csv(
        tmp_path / "l.csv", index=False
    )
    result = import_file(
        tmp_path / "l.csv",
        tmp_path / "raw",
        ImportOptions(
            mappings={"disk_io": MetricMapping("disk_io", ("disk.read", "disk.write"), "KB/s", "1MB/s")}
        ),
        METRICS,
    )
    assert result.rows == 26 and result.duplicates == 1 and result.hourly_rows == 1
    written = read_contract(tmp_path / "raw").iloc[0]
    assert written.disk_io_p95 == pytest.approx(25.0) and written.cpu_p95 == 12.5  # 250 KB/s of 1 MB/s


def test_environment_failures_and_empty_files_are_one_line(tmp_path):
    (tmp_path / "empty.csv").write_text("timestamp,server_id,metric,value\n")
    done = capfc(
        "import", "csv", str(tmp_path / "empty.csv"), "--raw-root", str(tmp_path / "raw"), check=False
    )
    assert done.returncode == 2 and "empty.csv: no data rows" in done.stderr
    datadog_like_wide(tmp_path / "e.csv", days=1, hosts=("h",))
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "metrics").write_text("a file where a folder should be")
    done = capfc("import", "csv", str(tmp_path / "e.csv"), *WIDE_ARGS, "--raw-root", str(tmp_path / "ro"),
                 check=False)  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_bare_unit_applies_to_every_mapped_metric(tmp_path):
    ts = pd.date_range("2024-05-01", periods=12, freq="5min", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    pd.DataFrame({"timestamp": ts, "server_id": "s", "cpu": 0.5}).to_csv(tmp_path / "f.csv", index=False)
    done = capfc("import", "csv", str(tmp_path / "f.csv"), "--layout", "wide", "--unit", "percent",
                 "--raw-root", str(tmp_path / "raw"))  # fmt: skip
    assert "cpu percent" in done.stdout and "read as fractions" not in done.stdout
    assert read_contract(tmp_path / "raw").cpu_p95.tolist() == [0.5]  # not x100: declared percent


@pytest.mark.dbt
def test_a_backfill_of_older_data_is_not_quarantined_as_before_commissioning(tmp_path):
    """An import does not invent a commissioned_date: importing March, then January for the same
    hosts, keeps January (the first imported day is not the day the server entered service)."""
    raw = tmp_path / "raw"
    for name, start in (("march.csv", "2024-03-04"), ("january.csv", "2024-01-08")):
        datadog_like_wide(tmp_path / name, days=7, hosts=("web-01",), start=start)
        capfc("import", "csv", str(tmp_path / name), *WIDE_ARGS, "--raw-root", str(raw))
    inventory = pq.read_table(raw / "inventory" / "servers.parquet").to_pylist()
    assert [(r["server_id"], r["commissioned_date"]) for r in inventory] == [("web-01", None)]
    capfc("--vars", "{eda_pattern_severity: warn}", "build", "--raw-root", str(raw), *WAREHOUSE_ONLY,
          env=isolated_env(tmp_path))  # fmt: skip
    with duckdb.connect(str(tmp_path / "warehouse" / "capacity_forecaster.duckdb"), read_only=True) as con:
        reasons = con.sql(
            "select distinct quarantine_reason from main_marts.fct_quarantined_measurements"
        ).fetchall()
        first_day = con.sql("select min(metric_date) from main_marts.fct_server_daily_metrics").fetchone()[0]
    assert "before_commissioning" not in {r for (r,) in reasons}
    assert str(first_day) <= "2024-01-09"  # January is in (local midnight in Berlin is 23:00 UTC)
