"""Generator properties that can fail: determinism, shapes, patterns, realism, hidden truth."""

from __future__ import annotations

import dataclasses
import datetime as dt

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from capacity_forecaster.generator import FleetSpec, generate_fleet
from capacity_forecaster.generator.archetypes import ARCHETYPES
from capacity_forecaster.generator.fleet import correlated_noise

PATTERN_SPEC = FleetSpec(servers=60, days=400, start=dt.date(2023, 1, 1), seed=3)


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


def test_same_seed_same_data_other_seed_other_data(tmp_path):
    spec = FleetSpec(servers=8, days=40, start=dt.date(2024, 3, 1), seed=11)
    for name, s in (("a", spec), ("b", spec), ("c", dataclasses.replace(spec, seed=12))):
        generate_fleet(s, tmp_path / name)
    read = lambda n: pq.read_table(tmp_path / n / "metrics", partitioning="hive")  # noqa: E731
    assert read("a").equals(read("b"))
    assert not read("a").equals(read("c"))


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
    } <= set(inventory.columns)


def test_values_in_range_and_finite(pattern_fleet):
    _, con = pattern_fleet
    bad = con.sql("""
        select count(*) from hourly
        where not (cpu_p95 between 0 and 100 and memory_p95 between 0 and 100
                   and disk_io_p95 between 0 and 100 and network_p95 between 0 and 100)
    """).fetchone()[0]
    assert bad == 0


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
    """Last 7 days of each quarter carry more CPU than the 14 days before them."""
    _, con = pattern_fleet
    ratios = dict(
        con.sql("""
        with d as (
            select archetype, cast("timestamp" as date) as day, avg(cpu_p95) as cpu
            from hourly group by all
        ),
        q as (
            select *, datediff('day', day,
                cast(date_trunc('quarter', day) + interval 3 month - interval 1 day as date)) as to_qe
            from d
        )
        select archetype,
               avg(cpu) filter (where to_qe < 7) / avg(cpu) filter (where to_qe between 7 and 20)
        from q group by archetype
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
        assert np.allclose(measured, np.asarray(spec.correlation), atol=0.03), spec.name


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
    crossed = truth.dropna(subset=["first_cross_80_date"])
    assert (crossed.first_cross_80_date > last_observed).all()
    assert (crossed.future_max_daily_p95 > 80).all()


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
