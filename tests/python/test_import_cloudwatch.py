"""CloudWatch import against a real moto_server process holding put metric data."""

from __future__ import annotations

import datetime as dt

import boto3
import numpy as np
import pandas as pd
import pytest
from conftest import capfc

pytestmark = pytest.mark.s3
START = dt.datetime(2024, 5, 6, tzinfo=dt.UTC)


def seed_cloudwatch(endpoint: str) -> tuple[list[str], dict]:
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1")
    cw = boto3.client("cloudwatch", endpoint_url=endpoint, region_name="us-east-1")
    reservation = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=2,
        MaxCount=2,
        InstanceType="m5.large",
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [
                    {"Key": "team", "Value": "payments"},
                    {"Key": "archetype", "Value": "web"},
                    {"Key": "env", "Value": "prod"},
                ],
            }
        ],
    )
    ids = sorted(i["InstanceId"] for i in reservation["Instances"])
    rng = np.random.default_rng(0)
    stamps = [START + dt.timedelta(minutes=5 * k) for k in range(12 * 6)]  # 6 hours, 5-minute
    sent = {}
    for instance in ids:
        series = {
            ("AWS/EC2", "CPUUtilization"): rng.uniform(10, 70, len(stamps)),
            ("CWAgent", "mem_used_percent"): rng.uniform(40, 60, len(stamps)),
            # 750 Mbit/s capacity: 93.75e6 bytes/s x 300 s per sample = 100 %
            ("AWS/EC2", "NetworkIn"): np.full(len(stamps), 0.2 * 93.75e6 * 300),
            ("AWS/EC2", "NetworkOut"): np.full(len(stamps), 0.1 * 93.75e6 * 300),
            ("AWS/EC2", "DiskReadBytes"): np.full(len(stamps), 0.5 * 593e6 * 300),
            ("AWS/EC2", "DiskWriteBytes"): np.zeros(len(stamps)),
        }
        for (namespace, name), values in series.items():
            cw.put_metric_data(
                Namespace=namespace,
                MetricData=[
                    {
                        "MetricName": name,
                        "Dimensions": [{"Name": "InstanceId", "Value": instance}],
                        "Timestamp": t,
                        "Value": float(v),
                    }
                    for t, v in zip(stamps, values, strict=True)
                ],
            )
        sent[instance] = series
    return ids, sent


def test_cloudwatch_import_to_raw_contract(moto, tmp_path):
    ids, sent = seed_cloudwatch(moto.endpoint_url)
    raw = tmp_path / "raw"
    done = capfc(
        "import",
        "cloudwatch",
        "--tag",
        "team=payments",
        "--start",
        "2024-05-06",
        "--end",
        "2024-05-06T06:00",
        "--endpoint-url",
        moto.endpoint_url,
        "--raw-root",
        str(raw),
    )
    assert "2 instances -> 12 hourly rows" in done.stdout
    written = pd.read_parquet(raw / "metrics")
    first_hour = written[(written.server_id == ids[0]) & (written.timestamp == pd.Timestamp(START))].iloc[0]
    cpu = sent[ids[0]][("AWS/EC2", "CPUUtilization")][:12]
    assert first_hour.cpu_p95 == pytest.approx(np.percentile(cpu, 95), abs=1e-3)
    assert first_hour.network_p95 == pytest.approx(30.0, abs=1e-3)  # (20 % in + 10 % out)
    assert first_hour.disk_io_p95 == pytest.approx(50.0, abs=1e-3)
    inventory = pd.read_parquet(raw / "inventory" / "servers.parquet").set_index("server_id")
    assert sorted(inventory.index) == ids
    assert set(inventory.archetype) == {"web"} and set(inventory.instance_type) == {"m5.large"}
    assert set(inventory.business_unit) == {"payments"} and set(inventory.environment) == {"prod"}


def test_no_matching_instances_is_a_clear_error(moto, tmp_path):
    done = capfc(
        "import",
        "cloudwatch",
        "--tag",
        "team=nobody",
        "--start",
        "2024-05-06",
        "--end",
        "2024-05-07",
        "--endpoint-url",
        moto.endpoint_url,
        "--raw-root",
        str(tmp_path / "raw"),
        check=False,
    )
    assert done.returncode == 2 and "no EC2 instances match" in done.stderr
