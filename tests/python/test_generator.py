"""Generator properties that can fail: determinism, shapes, patterns, realism, capacity events,
hidden truth."""

from __future__ import annotations

import dataclasses
import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import FLAG_THRESHOLDS, HOLIDAYS, capfc

from capacity_forecaster.generator import FleetSpec, dynamics, generate_fleet
from capacity_forecaster.generator.archetypes import ARCHETYPES, SIMULATED_METRICS
from capacity_forecaster.generator.fleet import correlated_noise
from capacity_forecaster.generator.instances import INSTANCE_TYPES, upgrade_for
from capacity_forecaster.generator.realism import ceiling_share, daily_p95_from_raw, realism_stats

PATTERN_SPEC = FleetSpec(servers=60, days=400, start=dt.date(2023, 1, 1), seed=3, holidays=HOLIDAYS)
# Three years: hot services outgrow their hosts, so the operator has work to do.
CAPACITY_SPEC = FleetSpec(servers=40, days=1095, start=dt.date(2022, 1, 1), seed=1, future_days=30)


@pytest.fixture(scope="module")
def pattern_fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp("patterns")
    generate_fleet(PATTERN_SPEC, root / "raw")
    con = duckdb.connect()
    con.execute(f"""
        create view hourly as
        select m.*, s.archetype
        from read_parquet('{root}/raw/metrics/*/*.parquet', hive_partitioning = true) m
        join read_parquet('{root}/raw/inventory/servers.parquet') s using (server_id)
    """)
    return root, con


@pytest.fixture(scope="module")
def capacity_fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp("capacity")
    generate_fleet(CAPACITY_SPEC, root / "raw", root / "truth", thresholds=FLAG_THRESHOLDS)
    daily = daily_p95_from_raw(root / "raw", CAPACITY_SPEC.metrics)
    return root, daily


def test_same_seed_same_data_other_seed_other_data(tmp_path):
    spec = FleetSpec(servers=8, days=40, start=dt.date(2024, 3, 1), seed=11, future_days=5)
    for name, s in (("a", spec), ("b", spec), ("c", dataclasses.replace(spec, seed=12))):
        generate_fleet(s, tmp_path / name / "raw", tmp_path / name / "truth")
    read = lambda n, sub: pq.read_table(tmp_path / n / sub, partitioning="hive")  # noqa: E731
    assert read("a", "raw/metrics").equals(read("b", "raw/metrics"))
    assert not read("a", "raw/metrics").equals(read("c", "raw/metrics"))
    for name in ("raw/inventory/servers.parquet", *(f"truth/{f}" for f in TRUTH_FILES)):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


TRUTH_FILES = ("server_truth.parquet", "future_daily_p95.parquet", "capacity_events.parquet")


def test_raw_contract_layout_and_types(small_fleet):
    partitions = sorted(p.name for p in (small_fleet.raw / "metrics").iterdir())
    assert partitions[0] == f"date={small_fleet.spec.start.isoformat()}"
    assert len(partitions) == small_fleet.spec.days
    table = pq.read_table(small_fleet.raw / "metrics" / partitions[10] / "part-0.parquet")
    assert table.schema.names == [
        "timestamp",
        "server_id",
        "cpu_p95",
        "memory_p95",
        "disk_io_p95",
        "network_p95",
    ]
    assert str(table.schema.field("timestamp").type) == "timestamp[us, tz=UTC]"
    inventory = pq.read_table(small_fleet.raw / "inventory" / "servers.parquet").to_pandas()
    assert inventory.server_id.is_unique and len(inventory) == small_fleet.spec.servers
    assert {
        "archetype",
        "instance_type",
        "vcpus",
        "memory_gb",
        "region",
        "business_unit",
        "environment",
        "commissioned_date",
        "decommissioned_date",
        "last_resized_date",
    } <= set(inventory.columns)
    assert str(
        pq.read_schema(small_fleet.raw / "inventory" / "servers.parquet").field("last_resized_date").type
    ) == ("date32[day]")


def test_metrics_come_from_the_spec_and_unknown_ones_fail_clearly(tmp_path):
    base = FleetSpec(servers=4, days=3, start=dt.date(2024, 1, 1), seed=5)
    generate_fleet(base, tmp_path / "all")
    generate_fleet(dataclasses.replace(base, metrics=("memory", "cpu")), tmp_path / "two")
    two = pq.read_table(tmp_path / "two" / "metrics", partitioning="hive")
    assert [c for c in two.column_names if c.endswith("_p95")] == ["memory_p95", "cpu_p95"]
    full = pq.read_table(tmp_path / "all" / "metrics", partitioning="hive")
    # the simulated world is the same: a subset of metrics does not change the values
    assert two.column("cpu_p95").equals(full.column("cpu_p95"))
    with pytest.raises(ValueError, match=r"can simulate only cpu, memory, disk_io, network.*gpu"):
        FleetSpec(metrics=("cpu", "gpu"))


def test_cli_passes_var_metrics_and_rejects_unknown_ones(tmp_path):
    out = tmp_path / "raw"
    args = ("generate", "--servers", "2", "--days", "2", "--raw-root", str(out), "--future-days", "0")
    ok = capfc("--vars", "{metrics: [cpu, network]}", *args)
    assert ok.returncode == 0
    names = pq.read_schema(next((out / "metrics").glob("*/*.parquet"))).names
    assert names == ["timestamp", "server_id", "cpu_p95", "network_p95"]
    bad = capfc("--vars", "{metrics: [cpu, gpu]}", *args, check=False)
    assert bad.returncode == 2
    assert "generator can simulate only" in bad.stderr and "Traceback" not in bad.stderr


def test_values_in_range_and_finite(pattern_fleet):
    _, con = pattern_fleet
    bad = con.sql("""
        select count(*) from hourly
        where not (cpu_p95 between 0 and 100 and memory_p95 between 0 and 100
                   and disk_io_p95 between 0 and 100 and network_p95 between 0 and 100)
    """).fetchone()[0]
    assert bad == 0


def test_idle_majority_with_a_heavy_busy_tail(pattern_fleet):
    """Like real fleets: the typical server-day is nearly idle, a tail runs hot, and some
    series jump from idle to saturated from one day to the next."""
    root, _ = pattern_fleet
    last = PATTERN_SPEC.start + dt.timedelta(days=PATTERN_SPEC.days - 1)
    daily = daily_p95_from_raw(root / "raw", ("cpu", "memory"), first_date=last - dt.timedelta(days=60))
    stats = realism_stats(daily)
    cpu, memory = stats["cpu"], stats["memory"]
    assert cpu["level_p50"] < 8 and memory["level_p50"] < 20
    assert cpu["level_p90"] > 5 * cpu["level_p50"]
    assert 0.02 < cpu["share_days_above_80"] < 0.2
    assert cpu["change_p99"] > 50  # idle to saturated within a day
    assert cpu["change_p99"] > 10 * cpu["change_p50"]  # heavy-tailed changes
    assert cpu["lag1_autocorrelation"] < 0.7  # day-to-day noise dominates the typical series


def test_every_archetype_present_with_configured_diurnal_peak(pattern_fleet):
    _, con = pattern_fleet
    peaks = dict(
        con.sql("""
        select archetype, arg_max(hour, avg_cpu) from (
            select archetype, hour("timestamp") as hour, avg(cpu_p95) as avg_cpu
            from hourly group by all
        ) group by archetype
    """).fetchall()
    )
    assert set(peaks) == {a.name for a in ARCHETYPES}
    for archetype in ARCHETYPES:
        distance = abs(peaks[archetype.name] - archetype.peak_hour_utc) % 24
        assert min(distance, 24 - distance) <= 2, (archetype.name, peaks[archetype.name])


def test_quarter_end_uplift_present(pattern_fleet):
    """The typical server's daily P95 over the last 7 days of each quarter exceeds the 14
    days before (median over servers: one server's burst must not decide it)."""
    _, con = pattern_fleet
    ratios = dict(
        con.sql("""
        with d as (
            select archetype, server_id, cast("timestamp" as date) as day,
                   quantile_cont(cpu_p95, 0.95) as cpu
            from hourly group by all
        ),
        q as (
            select *, datediff('day', day,
                cast(date_trunc('quarter', day) + interval 3 month - interval 1 day as date)) as to_qe
            from d
        ),
        per_server as (
            select archetype, server_id,
                   avg(cpu) filter (where to_qe < 7) / avg(cpu) filter (where to_qe between 7 and 20) as r
            from q group by all
        )
        select archetype, median(r) from per_server group by archetype
    """).fetchall()
    )
    for archetype in ARCHETYPES:
        if archetype.quarter_end_uplift >= 0.18:
            assert ratios[archetype.name] > 1.04, (archetype.name, ratios[archetype.name])


def test_noise_correlation_matches_archetype_matrix():
    rng = np.random.default_rng(0)
    archetype = np.arange(len(ARCHETYPES)).repeat(4)
    noise = correlated_noise(rng, archetype, 20_000)
    for a_idx, spec in enumerate(ARCHETYPES):
        sample = noise[:, archetype == a_idx, :].reshape(-1, 4)
        measured = np.corrcoef(sample, rowvar=False)
        assert np.allclose(measured, np.asarray(spec.correlation), atol=0.04), spec.name
    # heavy-tailed: far more 4-sigma hours than a normal distribution's 0.006 %
    assert (np.abs(noise) > 4).mean() > 0.0005


def test_metrics_correlated_in_generated_data(pattern_fleet):
    """cpu and network move together (shared diurnal load + correlated noise) in every archetype."""
    _, con = pattern_fleet
    for archetype, corr in con.sql(
        "select archetype, corr(cpu_p95, network_p95) from hourly group by 1"
    ).fetchall():
        assert corr > 0.3, (archetype, corr)


def test_gaps_and_short_histories_exist(pattern_fleet):
    root, con = pattern_fleet
    hours = con.sql("""
        select server_id, count(*) as n, min("timestamp") as first_seen from hourly group by 1
    """).df()
    full = PATTERN_SPEC.days * 24
    assert (hours.n < full).mean() > 0.9  # agent outages hit almost every server
    assert (hours.n < 0.1 * full).any()  # servers commissioned in the last weeks
    inventory = pq.read_table(root / "raw" / "inventory" / "servers.parquet").to_pandas()
    assert inventory.decommissioned_date.notna().any()
    # whole days missing inside a server's life (agent down for days), not just hours
    days = con.sql("""
        select server_id, count(distinct cast("timestamp" as date)) as n,
               datediff('day', min("timestamp"), max("timestamp")) + 1 as span
        from hourly group by 1
    """).df()
    assert (days.n < days.span).mean() > 0.3


def test_capacity_events_resize_saturated_servers_and_reach_the_inventory(capacity_fleet):
    root, daily = capacity_fleet
    spec = CAPACITY_SPEC
    events = pd.read_parquet(root / "truth" / "capacity_events.parquet")
    inventory = pd.read_parquet(root / "raw" / "inventory" / "servers.parquet").set_index("server_id")
    last_day = pd.Timestamp(spec.start + dt.timedelta(days=spec.days - 1))
    events["event_date"] = pd.to_datetime(events.event_date)
    history = events[~events.is_future]
    upgrades = history[history.kind == "upgrade"]
    assert len(upgrades) >= 2 and (history.event_date <= last_day).all()
    assert (events.is_future == (events.event_date > last_day)).all()

    # The inventory shows the size after the last observed event, and when it was resized.
    last = history.sort_values("event_date").groupby("server_id").last()
    for server_id, row in last.iterrows():
        assert inventory.loc[server_id, "instance_type"] == row.to_instance_type
        assert (inventory.loc[server_id, "vcpus"], inventory.loc[server_id, "memory_gb"]) == INSTANCE_TYPES[
            row.to_instance_type
        ]
    resized = upgrades.groupby("server_id").event_date.max()
    assert (
        pd.to_datetime(inventory.last_resized_date)
        .dropna()
        .sort_index()
        .equals(resized.sort_index().rename("last_resized_date"))
    )
    for row in upgrades.itertuples():
        assert row.to_instance_type == upgrade_for(row.from_instance_type, row.trigger_metrics == "memory")

    # The trigger metric ran hot before the event (memory lower: OOM restarts empty it) and
    # drops by about the resize ratio after.
    trusted = daily[daily.hours_present >= 18].assign(metric_date=lambda d: pd.to_datetime(d.metric_date))
    ratios = []
    for row in history.itertuples():
        metric = row.trigger_metrics.split(",")[0]
        series = trusted[(trusted.server_id == row.server_id) & (trusted.metric == metric)]
        offset = (series.metric_date - row.event_date).dt.days
        before = series.p95_pct[(offset >= -14) & (offset < 0)].mean()
        after = series.p95_pct[(offset >= 1) & (offset <= 14)].mean()
        assert before > 50, (row.server_id, metric, before)
        ratios.append(after / before)
    assert np.median(ratios) < 0.8, ratios


def test_few_servers_sit_at_their_ceiling_because_the_operator_acts(capacity_fleet, tmp_path, monkeypatch):
    """<= 3 % of live servers with a 30-day mean of daily P95 >= 98 % on some metric, and
    that is the operator's doing: without capacity events more servers stay saturated."""
    _, daily = capacity_fleet
    managed = ceiling_share(daily).iloc[-365:]
    assert managed.mean() <= 0.03 and managed.max() <= 0.05

    monkeypatch.setattr(dynamics, "SATURATED_PCT", np.full(len(SIMULATED_METRICS), np.inf))
    result = generate_fleet(dataclasses.replace(CAPACITY_SPEC, future_days=0), tmp_path / "raw")
    assert result.capacity_events == 0
    unmanaged = ceiling_share(daily_p95_from_raw(tmp_path / "raw", CAPACITY_SPEC.metrics)).iloc[-365:]
    assert unmanaged.mean() > managed.mean() + 0.01


def test_future_days_go_to_truth_only(small_fleet):
    spec = small_fleet.spec
    raw_days = sorted(p.name[5:] for p in (small_fleet.raw / "metrics").iterdir())
    truth_days = sorted(p.name[5:] for p in (small_fleet.truth / "metrics").iterdir())
    last_observed = spec.start + dt.timedelta(days=spec.days - 1)
    assert raw_days[-1] == last_observed.isoformat()
    assert truth_days[0] == (last_observed + dt.timedelta(days=1)).isoformat()
    assert len(truth_days) == spec.future_days
    truth = pq.read_table(small_fleet.truth / "server_truth.parquet").to_pandas()
    assert len(truth) == spec.servers * 4
    high = int(FLAG_THRESHOLDS[0])
    crossed = truth.dropna(subset=[f"first_cross_{high}_date"])
    assert (crossed[f"first_cross_{high}_date"] > last_observed).all()
    assert (crossed.future_max_daily_p95 > high).all()


def test_truth_daily_p95_is_the_generated_future(capacity_fleet):
    """future_daily_p95.parquet is the project's daily P95 of the hidden hourly future, and
    server_truth's first crossings are its first days above the high / very high thresholds."""
    root, _ = capacity_fleet
    truth = pd.read_parquet(root / "truth" / "future_daily_p95.parquet")
    recomputed = daily_p95_from_raw(root / "truth", CAPACITY_SPEC.metrics)
    merged = truth.assign(metric_date=pd.to_datetime(truth.metric_date)).merge(
        recomputed.assign(metric_date=pd.to_datetime(recomputed.metric_date)),
        on=["server_id", "metric", "metric_date"],
        suffixes=("", "_sql"),
    )
    assert len(merged) == len(truth) == len(recomputed) > 0
    assert np.allclose(merged.p95_pct, merged.p95_pct_sql, atol=1e-4)
    assert (merged.hours_present == merged.hours_present_sql).all()

    first = pd.read_parquet(root / "truth" / "server_truth.parquet").set_index(["server_id", "metric"])
    for threshold in map(int, FLAG_THRESHOLDS):
        above = truth[truth.p95_pct > threshold].groupby(["server_id", "metric"]).metric_date.min()
        expected = pd.to_datetime(above).reindex(first.index)
        actual = pd.to_datetime(first[f"first_cross_{threshold}_date"])
        assert expected.equals(actual.rename(expected.name)), threshold
        assert actual.notna().sum() > 0 or threshold == FLAG_THRESHOLDS[1]


def test_seed_compatible_csv(tmp_path):
    spec = FleetSpec(servers=3, days=5, start=dt.date(2024, 1, 1), seed=1)
    result = generate_fleet(spec, tmp_path / "raw", seed_csv=tmp_path / "server_metrics.csv.gz")
    rows = duckdb.sql(f"select count(*) from read_csv('{tmp_path}/server_metrics.csv.gz')").fetchone()
    assert rows[0] == result.metrics_rows


def test_generating_without_future_leaves_truth_folder_alone(tmp_path):
    spec = FleetSpec(servers=3, days=10, start=dt.date(2024, 1, 1), seed=1, future_days=5)
    generate_fleet(spec, tmp_path / "raw", tmp_path / "truth")
    before = sorted(p.name for p in (tmp_path / "truth" / "metrics").iterdir())
    generate_fleet(dataclasses.replace(spec, future_days=0), tmp_path / "raw2", tmp_path / "truth")
    assert (
        sorted(p.name for p in (tmp_path / "truth" / "metrics").iterdir())
        == before
        == [f"date=2024-01-{d:02d}" for d in range(11, 16)]
    )


def test_upgrade_paths():
    assert upgrade_for("m6i.large", memory_only=False) == "m6i.xlarge"
    assert upgrade_for("m6i.xlarge", memory_only=True) == "r6i.xlarge"  # same vCPUs, 2x memory
    assert upgrade_for("r6i.xlarge", memory_only=True) == "x2iedn.xlarge"
    assert upgrade_for("c6i.16xlarge", memory_only=False) is None  # top of the range: rebalance
    assert all(upgrade_for(t, memory_only=False) is None or INSTANCE_TYPES[upgrade_for(t, False)][0]
               > INSTANCE_TYPES[t][0] for t in INSTANCE_TYPES)  # fmt: skip
