"""Consolidation groups: K-Means over the intraday profiles of underutilized servers.

Servers are clustered on their 24-hour mean profiles of all four metrics (standardised), so
a group shares a load shape. k is chosen by the silhouette score over 2..8 (the largest
average separation; a single group when there are fewer than 4 candidates). Each group is
then sized: the members' combined hourly demand in vCPUs and GB (percent x capacity) against
the consolidation ceiling gives the number of hosts of the group's largest size needed, and
the rest can be retired.

Sizes are optional (imported servers often have none): a group with any member of unknown
size (vcpus or memory_gb missing) keeps its clustering but says "size unknown" - hosts,
retirements and demand in units stay NULL rather than being guessed.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa

from capacity_forecaster.frames import to_pandas

MAX_K = 8
SCHEMA = pa.schema(
    [
        ("server_id", pa.string()),
        ("group_id", pa.int32()),
        ("group_size", pa.int32()),
        ("chosen_k", pa.int32()),
        ("silhouette", pa.float64()),
        ("is_size_known", pa.bool_()),
        ("hosts_needed", pa.int32()),
        ("servers_retired", pa.int32()),
        ("group_peak_cpu_vcpus", pa.float64()),
        ("group_peak_memory_gb", pa.float64()),
        ("recommendation", pa.string()),
    ]
)


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
    return (profile_pct.to_numpy() / 100 * capacity.to_numpy(dtype=float)[:, None]).sum(axis=0)


def _peers(members: list[str], server_id: str) -> str:
    peers = [m for m in members if m != server_id]
    if not peers:
        return ""
    return f"; peers: {', '.join(peers[:5])}{' ...' if len(peers) > 5 else ''}"


def _sized(info: pd.DataFrame, profiles: pd.DataFrame, members: list[str], ceiling_pct: float) -> dict:
    cpu = _demand(profiles.loc[members, "cpu"], info["vcpus"])
    mem = _demand(profiles.loc[members, "memory"], info["memory_gb"])
    biggest = info.sort_values(["vcpus", "memory_gb"]).iloc[-1]
    usable = ceiling_pct / 100
    hosts = max(
        1,
        math.ceil(cpu.max() / (usable * biggest.vcpus)),
        math.ceil(mem.max() / (usable * biggest.memory_gb)),
    )
    host = (
        biggest.instance_type
        if isinstance(biggest.instance_type, str) and biggest.instance_type
        else f"{int(biggest.vcpus)} vCPU / {int(biggest.memory_gb)} GB hosts"
    )
    text = (
        f"({len(members)} servers, combined CPU peaks at {int(np.argmax(cpu)):02d}:00 UTC with "
        f"{cpu.max():.1f} vCPUs / {mem.max():.0f} GB): fits on {hosts} x {host} at <= {ceiling_pct:.0f}%"
        + (f", retire {len(members) - hosts}" if len(members) > hosts else "")
    )
    return {
        "is_size_known": True,
        "hosts_needed": hosts,
        "servers_retired": len(members) - hosts,
        "group_peak_cpu_vcpus": round(float(cpu.max()), 2),
        "group_peak_memory_gb": round(float(mem.max()), 2),
        "text": text,
    }


def _unsized(info: pd.DataFrame, profiles: pd.DataFrame, members: list[str]) -> dict:
    unknown = info.index[info["vcpus"].isna() | info["memory_gb"].isna()].tolist()
    peak_hour = int(np.argmax(profiles.loc[members, "cpu"].to_numpy().mean(axis=0)))
    named = ", ".join(unknown[:3]) + (" ..." if len(unknown) > 3 else "")
    text = (
        f"({len(members)} servers with a similar load shape, CPU % peaks at {peak_hour:02d}:00 UTC): "
        f"size unknown for {len(unknown)} of them ({named}"
        "; no vcpus/memory_gb in the inventory), so hosts needed cannot be computed: "
        "add sizes with `capfc import inventory`"
    )
    return {
        "is_size_known": False,
        "hosts_needed": None,
        "servers_retired": None,
        "group_peak_cpu_vcpus": None,
        "group_peak_memory_gb": None,
        "text": text,
    }


def consolidation_groups(
    server_risk, hourly_profiles, servers, ceiling_pct: float, window_days: int, seed: int
) -> pa.Table:
    """One row per underutilized server (risk class over `window_days`): its K-Means group,
    the group's sizing against `ceiling_pct` (NULL when any member's size is unknown) and a
    recommendation line. Columns and types: SCHEMA; demand in vCPUs and GB."""
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    risk = to_pandas(server_risk)
    candidates = risk[(risk.risk_class == "underutilized") & (risk.window_days == window_days)]
    inventory = to_pandas(servers).set_index("server_id")
    for column in ("vcpus", "memory_gb", "instance_type"):
        if column not in inventory:
            inventory[column] = None
    profiles = to_pandas(hourly_profiles)
    wide = (
        profiles[profiles.server_id.isin(candidates.server_id)]
        .pivot_table(index="server_id", columns=["metric", "hour_of_day"], values="mean_pct")
        .fillna(0.0)
    )
    if wide.empty:
        return SCHEMA.empty_table()
    features = StandardScaler().fit_transform(wide.to_numpy())
    k, silhouette = choose_k(features, seed)
    labels = (
        np.zeros(len(wide), dtype=int)
        if k == 1
        else KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(features)
    )
    rows = []
    for group in sorted(set(labels)):
        members = list(wide.index[labels == group])
        info = inventory.reindex(members)
        known = info["vcpus"].notna().all() and info["memory_gb"].notna().all()
        sizing = _sized(info, wide, members, ceiling_pct) if known else _unsized(info, wide, members)
        text = sizing.pop("text")
        for server_id in members:
            rows.append(
                {
                    "server_id": server_id,
                    "group_id": int(group),
                    "group_size": len(members),
                    "chosen_k": k,
                    "silhouette": silhouette,
                    **sizing,
                    "recommendation": f"group {group} {text}{_peers(members, server_id)}",
                }
            )
    return pa.Table.from_pylist(rows, schema=SCHEMA)
