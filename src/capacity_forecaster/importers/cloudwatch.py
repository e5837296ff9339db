"""`capfc import cloudwatch`: EC2 + CloudWatch-agent metrics -> the raw data contract.

* instances: by id, or by tag filters, via DescribeInstances (paginated); vCPUs and memory
  from DescribeInstanceTypes; tags archetype / team / env fill the inventory.
* metrics, GetMetricData (paginated, up to 500 queries a call, botocore "adaptive" retries for
  throttling): CPUUtilization (%), CWAgent mem_used_percent (%), NetworkIn + NetworkOut and
  DiskReadBytes + DiskWriteBytes (bytes per sample) converted to percent of a configured
  capacity per instance type (var instance_capacity: network_mbps, disk_mbps).
* statistic p95 over 1-hour periods. Where the endpoint cannot compute extended statistics
  (some emulators), 5-minute samples are fetched instead and the hourly P95 is computed
  locally - the result's `statistic_source` says which.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import boto3
import duckdb
import pandas as pd
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from capacity_forecaster.importers.contract import merge_inventory, request_output_name, write_hourly
from capacity_forecaster.importers.errors import ImportInputError

# (contract metric, namespace, metric names summed, kind)
METRIC_SOURCES = (
    ("cpu", "AWS/EC2", ("CPUUtilization",), "percent"),
    ("memory", "CWAgent", ("mem_used_percent",), "percent"),
    ("network", "AWS/EC2", ("NetworkIn", "NetworkOut"), "network_bytes"),
    ("disk_io", "AWS/EC2", ("DiskReadBytes", "DiskWriteBytes"), "disk_bytes"),
)
HOUR = 3600
CLOUDWATCH_METRICS = tuple(source[0] for source in METRIC_SOURCES)


class CloudWatchImportError(ImportInputError):
    """The import cannot proceed; the message says why."""


@dataclass
class CloudWatchImportResult:
    instances: int
    hourly_rows: int
    statistic_source: str  # "cloudwatch_p95" or "local_p95_from_5min_samples"


def _clients(region: str | None, endpoint_url: str | None, profile: str | None):
    session = boto3.Session(profile_name=profile, region_name=region or "us-east-1")
    config = Config(retries={"mode": "adaptive", "max_attempts": 8}, connect_timeout=5, read_timeout=60)
    return (
        session.client("ec2", endpoint_url=endpoint_url, config=config),
        session.client("cloudwatch", endpoint_url=endpoint_url, config=config),
        session.client(
            "cloudwatch",
            endpoint_url=endpoint_url,
            config=Config(retries={"max_attempts": 1}, connect_timeout=5),
        ),
    )


def _instances(ec2, instance_ids: list[str] | None, tags: Mapping[str, str] | None) -> list[dict]:
    kwargs: dict = {}
    if instance_ids:
        kwargs["InstanceIds"] = list(instance_ids)
    if tags:
        kwargs["Filters"] = [{"Name": f"tag:{k}", "Values": [v]} for k, v in tags.items()]
    out = []
    for page in ec2.get_paginator("describe_instances").paginate(**kwargs):
        for reservation in page["Reservations"]:
            out.extend(reservation["Instances"])
    if not out:
        raise CloudWatchImportError(f"no EC2 instances match ids={instance_ids} tags={dict(tags or {})}")
    return out


def _instance_types(ec2, types: set[str]) -> dict[str, tuple[int | None, int | None]]:
    try:
        found = ec2.describe_instance_types(InstanceTypes=sorted(types))["InstanceTypes"]
    except (ClientError, BotoCoreError):
        return {}
    return {
        t["InstanceType"]: (
            t.get("VCpuInfo", {}).get("DefaultVCpus"),
            round(t.get("MemoryInfo", {}).get("SizeInMiB", 0) / 1024) or None,
        )
        for t in found
    }


def _queries(instance_ids: list[str], period: int, stat: str) -> list[dict]:
    queries = []
    for i, instance in enumerate(instance_ids):
        for metric, namespace, names, _ in METRIC_SOURCES:
            for j, name in enumerate(names):
                queries.append(
                    {
                        "Id": f"q{i}_{metric}_{j}",
                        "Label": f"{instance}|{metric}",
                        "MetricStat": {
                            "Metric": {
                                "Namespace": namespace,
                                "MetricName": name,
                                "Dimensions": [{"Name": "InstanceId", "Value": instance}],
                            },
                            "Period": period,
                            "Stat": stat,
                        },
                        "ReturnData": True,
                    }
                )
    return queries


def _fetch(cw, queries: list[dict], start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    rows = []
    for offset in range(0, len(queries), 500):
        batch = queries[offset : offset + 500]
        labels = {q["Id"]: q["Label"] for q in batch}
        token = None
        while True:
            kwargs = {
                "MetricDataQueries": batch,
                "StartTime": start,
                "EndTime": end,
                "ScanBy": "TimestampAscending",
            }
            if token:
                kwargs["NextToken"] = token
            page = cw.get_metric_data(**kwargs)
            for result in page["MetricDataResults"]:
                instance, metric = labels[result["Id"]].split("|")
                rows += [
                    (instance, metric, pd.Timestamp(t), v)
                    for t, v in zip(result["Timestamps"], result["Values"], strict=True)
                ]
            token = page.get("NextToken")
            if not token:
                break
    return pd.DataFrame(rows, columns=["server_id", "metric", "timestamp", "value"])


def _supports_p95(probe, instance: str, start: dt.datetime, end: dt.datetime) -> bool:
    try:
        page = probe.get_metric_data(
            MetricDataQueries=_queries([instance], HOUR, "p95")[:1], StartTime=start, EndTime=end
        )
    except (ClientError, BotoCoreError):
        return False
    values = page["MetricDataResults"][0]["Values"] if page["MetricDataResults"] else []
    return all(v is not None for v in values)


def import_cloudwatch(
    out_root: Path,
    start: dt.datetime,
    end: dt.datetime,
    *,
    capacities: Mapping[str, Mapping[str, float]],
    instance_ids: list[str] | None = None,
    tags: Mapping[str, str] | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    profile: str | None = None,
    sample_seconds: int = 300,
    metrics: tuple[str, ...] | list[str] = CLOUDWATCH_METRICS,
) -> CloudWatchImportResult:
    ec2, cw, probe = _clients(region, endpoint_url, profile)
    try:
        instances = _instances(ec2, instance_ids, tags)
        ids = [i["InstanceId"] for i in instances]
        native = _supports_p95(probe, ids[0], start, end)
        if native:
            data = _fetch(cw, _queries(ids, HOUR, "p95"), start, end)
        else:  # hourly P95 computed here from the 5-minute samples
            data = _fetch(cw, _queries(ids, sample_seconds, "Maximum"), start, end)
        types = _instance_types(ec2, {i["InstanceType"] for i in instances})
    except (ClientError, BotoCoreError) as exc:
        raise CloudWatchImportError(f"CloudWatch/EC2 request failed: {exc}") from exc
    if data.empty:
        raise CloudWatchImportError(f"no datapoints between {start} and {end} for {len(ids)} instances")

    itype = {i["InstanceId"]: i["InstanceType"] for i in instances}
    default = capacities.get("default", {})
    # byte counters: sum In + Out (Read + Write) per sample, then bytes/sample -> Mbit/s or MB/s
    data = data.groupby(["server_id", "metric", "timestamp"], as_index=False)["value"].sum()
    for metric, unit_key, scale in (("network", "network_mbps", 8 / 1e6), ("disk_io", "disk_mbps", 1 / 1e6)):
        rows = data["metric"] == metric
        capacity = data.loc[rows, "server_id"].map(
            lambda s, k=unit_key: capacities.get(itype[s], default).get(k, default.get(k))
        )
        if capacity.isna().any():
            missing = sorted({itype[s] for s in data.loc[rows & capacity.isna(), "server_id"]})
            raise CloudWatchImportError(f"var instance_capacity has no {unit_key} for {missing}")
        data.loc[rows, "value"] = data.loc[rows, "value"] / sample_seconds * scale / capacity * 100
    data["timestamp"] = pd.to_datetime(data["timestamp"], utc=True)
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.register("samples", data)
    known = {m for m, *_ in METRIC_SOURCES}
    columns = ", ".join(
        f"quantile_cont(value, 0.95) filter (where metric = '{m}') as {m}_p95"
        if m in known
        else f"cast(null as double) as {m}_p95"
        for m in metrics
    )
    con.execute(f"""create view hourly as
        select cast(date_trunc('hour', timestamp) as timestamp) as hour, server_id, {columns}
        from samples group by all""")
    name = request_output_name(
        "cloudwatch", endpoint_url, region, sorted(ids), start.isoformat(), end.isoformat()
    )
    hourly = write_hourly(con, "hourly", out_root, name, list(metrics)).hourly_rows
    tag = lambda i, *keys: next((t["Value"] for t in i.get("Tags", []) if t["Key"] in keys), None)  # noqa: E731
    merge_inventory(
        out_root,
        [
            {
                "server_id": i["InstanceId"],
                "archetype": tag(i, "archetype") or "unknown",
                "instance_type": i["InstanceType"],
                "vcpus": types.get(i["InstanceType"], (None, None))[0],
                "memory_gb": types.get(i["InstanceType"], (None, None))[1],
                "region": i.get("Placement", {}).get("AvailabilityZone", "")[:-1] or region,
                "business_unit": tag(i, "team", "business_unit"),
                "environment": tag(i, "env", "environment"),
                "commissioned_date": pd.Timestamp(i["LaunchTime"]).date() if i.get("LaunchTime") else None,
            }
            for i in instances
        ],
    )
    return CloudWatchImportResult(
        len(ids), hourly, "cloudwatch_p95" if native else "local_p95_from_5min_samples"
    )
