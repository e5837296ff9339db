"""Consolidation groups: K-Means over the intraday profiles of underutilized servers.

Servers are clustered on their 24-hour mean profiles of all four metrics (standardised), so
a group shares a load shape. k is chosen by the silhouette score over 2..8 (the largest
average separation; a single group when there are fewer than 4 candidates). Each group is
then sized: the members' combined hourly demand in vCPUs and GB (percent x capacity) against
the consolidation ceiling gives the number of hosts of the group's largest instance type
needed, and the rest can be retired.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from capacity_forecaster.forecasting.panel import to_pandas

MAX_K = 8


def choose_k(features: np.ndarray, seed: int) -> tuple[int, float | None]:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    n = len(features)
    distinct = len(np.unique(features.round(9), axis=0))
    if n < 4 or distinct < 2:
        return 1, None
    best_k, best_score = 1, -1.0
    for k in range(2, min(MAX_K, n - 1, distinct) + 1):
        labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(features)
        score = float(silhouette_score(features, labels))
        if score > best_score:
            best_k, best_score = k, score
    return best_k, best_score


def _demand(profile_pct: pd.DataFrame, capacity: pd.Series) -> np.ndarray:
    """Combined hourly demand in capacity units (vCPUs, GB) of the rows of a % profile."""
    return (profile_pct.to_numpy() / 100 * capacity.to_numpy()[:, None]).sum(axis=0)


def consolidation_groups(
    server_risk, hourly_profiles, servers, ceiling_pct: float, window_days: int, seed: int
) -> pd.DataFrame:
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    risk = to_pandas(server_risk)
    candidates = risk[(risk.risk_class == "underutilized") & (risk.window_days == window_days)]
    inventory = to_pandas(servers).set_index("server_id")
    profiles = to_pandas(hourly_profiles)
    wide = (
        profiles[profiles.server_id.isin(candidates.server_id)]
        .pivot_table(index="server_id", columns=["metric", "hour_of_day"], values="mean_pct")
        .fillna(0.0)
    )
    columns = [
        "server_id",
        "group_id",
        "group_size",
        "chosen_k",
        "silhouette",
        "hosts_needed",
        "servers_retired",
        "group_peak_cpu_vcpus",
        "group_peak_memory_gb",
        "recommendation",
    ]
    if wide.empty:
        return pd.DataFrame(columns=columns)
    features = StandardScaler().fit_transform(wide.to_numpy())
    k, silhouette = choose_k(features, seed)
    labels = (
        np.zeros(len(wide), dtype=int)
        if k == 1
        else KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(features)
    )
    rows = []
    for group in sorted(set(labels)):
        members = wide.index[labels == group]
        info = inventory.loc[members]
        cpu = _demand(wide.loc[members, "cpu"], info["vcpus"])
        mem = _demand(wide.loc[members, "memory"], info["memory_gb"])
        biggest = info.sort_values(["vcpus", "memory_gb"]).iloc[-1]
        usable = ceiling_pct / 100
        hosts = max(
            1,
            math.ceil(cpu.max() / (usable * biggest.vcpus)),
            math.ceil(mem.max() / (usable * biggest.memory_gb)),
        )
        peak_hour = int(np.argmax(cpu))
        for server_id in members:
            peers = [m for m in members if m != server_id]
            rows.append(
                {
                    "server_id": server_id,
                    "group_id": int(group),
                    "group_size": len(members),
                    "chosen_k": k,
                    "silhouette": silhouette,
                    "hosts_needed": hosts,
                    "servers_retired": len(members) - hosts,
                    "group_peak_cpu_vcpus": round(float(cpu.max()), 2),
                    "group_peak_memory_gb": round(float(mem.max()), 2),
                    "recommendation": (
                        f"group {group} ({len(members)} servers, combined CPU peaks at "
                        f"{peak_hour:02d}:00 UTC with {cpu.max():.1f} vCPUs / {mem.max():.0f} GB): "
                        f"fits on {hosts} x "
                        f"{biggest.instance_type} at <= {ceiling_pct:.0f}%"
                        + (f", retire {len(members) - hosts}" if len(members) > hosts else "")
                        + (
                            f"; peers: {', '.join(peers[:5])}{' ...' if len(peers) > 5 else ''}"
                            if peers
                            else ""
                        )
                    ),
                }
            )
    return pd.DataFrame(rows, columns=columns)
