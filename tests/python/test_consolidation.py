from __future__ import annotations

import numpy as np
import pandas as pd

from capacity_forecaster.consolidation import SCHEMA, consolidation_groups

METRICS = ("cpu", "memory", "disk_io", "network")


def profiles(server_id: str, peak_hour: int, level: float) -> list[dict]:
    hours = np.arange(24)
    shape = level + 10 * np.exp(-0.5 * ((hours - peak_hour) / 2.0) ** 2)
    return [
        {"server_id": server_id, "metric": m, "hour_of_day": h, "mean_pct": shape[h]}
        for m in METRICS
        for h in hours
    ]


def test_day_and_night_workloads_form_two_sized_groups():
    day = [f"day-{i}" for i in range(5)]
    night = [f"night-{i}" for i in range(4)]
    busy = ["busy-0"]
    rows = [r for s in day for r in profiles(s, 14, 10)] + [r for s in night for r in profiles(s, 2, 12)]
    rows += profiles("busy-0", 14, 70)
    risk = pd.DataFrame(
        {
            "server_id": day + night + busy,
            "window_days": 90,
            "risk_class": ["underutilized"] * 9 + ["high_risk"],
        }
    )
    servers = pd.DataFrame(
        {"server_id": day + night + busy, "vcpus": 4, "memory_gb": 16, "instance_type": "m6i.xlarge"}
    )
    groups = consolidation_groups(
        risk, pd.DataFrame(rows), servers, ceiling_pct=60.0, window_days=90, seed=0
    ).to_pandas()
    assert set(groups.server_id) == set(day + night)  # only underutilized servers
    assert groups.chosen_k.iloc[0] == 2 and groups.silhouette.iloc[0] > 0.5
    by_group = groups.groupby("group_id").server_id.apply(set).tolist()
    assert sorted(by_group, key=len) == [set(night), set(day)]
    day_group = groups[groups.server_id == "day-0"].iloc[0]
    # 5 servers x 4 vCPUs x 20 % peak = 4 vCPUs; one 4-vCPU host at 60 % carries 2.4 -> 2 hosts
    assert day_group.group_peak_cpu_vcpus == 4.0 and day_group.hosts_needed == 2
    assert day_group.servers_retired == 3 and "retire 3" in day_group.recommendation


def test_unknown_sizes_say_size_unknown_instead_of_failing():
    """Imported servers have no vcpus/memory_gb: the group keeps its clustering, sizing is
    NULL and the recommendation says so; a fully sized group in the same run is still sized."""
    sized = [f"day-{i}" for i in range(4)]
    unsized = [f"night-{i}" for i in range(4)]
    rows = [r for s in sized for r in profiles(s, 14, 10)] + [r for s in unsized for r in profiles(s, 2, 12)]
    risk = pd.DataFrame({"server_id": sized + unsized, "window_days": 90, "risk_class": "underutilized"})
    servers = pd.DataFrame(
        {
            "server_id": sized + unsized,
            "vcpus": [4] * 4 + [None, 8, None, None],
            "memory_gb": [16] * 4 + [None, 32, None, None],
            "instance_type": [None] * 8,  # no instance types either (e.g. Prometheus imports)
        }
    )
    groups = consolidation_groups(risk, pd.DataFrame(rows), servers, ceiling_pct=60.0, window_days=90, seed=0)
    assert groups.schema == SCHEMA
    frame = groups.to_pandas().set_index("server_id")
    night, day = frame.loc["night-1"], frame.loc["day-0"]
    assert not night.is_size_known and pd.isna(night.hosts_needed) and pd.isna(night.group_peak_cpu_vcpus)
    assert "size unknown for 3 of them (night-0, night-2, night-3" in night.recommendation
    assert "capfc import inventory" in night.recommendation
    # 4 servers x 4 vCPUs x 20 % peak = 3.2 vCPUs; 4-vCPU hosts at 60 % carry 2.4 -> 2 hosts
    assert day.is_size_known and day.hosts_needed == 2 and day.servers_retired == 2
    assert "fits on 2 x 4 vCPU / 16 GB hosts" in day.recommendation


def test_no_candidates_give_an_empty_typed_table():
    risk = pd.DataFrame({"server_id": ["a"], "window_days": [90], "risk_class": ["high_risk"]})
    servers = pd.DataFrame({"server_id": ["a"]})  # an inventory without size columns at all
    groups = consolidation_groups(risk, pd.DataFrame(profiles("a", 3, 50)), servers, 60.0, 90, 0)
    assert groups.num_rows == 0 and groups.schema == SCHEMA
