from __future__ import annotations

import numpy as np
import pandas as pd

from capacity_forecaster.consolidation import consolidation_groups

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
    groups = consolidation_groups(risk, pd.DataFrame(rows), servers, ceiling_pct=60.0, window_days=90, seed=0)
    assert set(groups.server_id) == set(day + night)  # only underutilized servers
    assert groups.chosen_k.iloc[0] == 2 and groups.silhouette.iloc[0] > 0.5
    by_group = groups.groupby("group_id").server_id.apply(set).tolist()
    assert sorted(by_group, key=len) == [set(night), set(day)]
    day_group = groups[groups.server_id == "day-0"].iloc[0]
    # 5 servers x 4 vCPUs x 20 % peak = 4 vCPUs; one 4-vCPU host at 60 % carries 2.4 -> 2 hosts
    assert day_group.group_peak_cpu_vcpus == 4.0 and day_group.hosts_needed == 2
    assert day_group.servers_retired == 3 and "retire 3" in day_group.recommendation
