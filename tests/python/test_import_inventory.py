"""`capfc import inventory` fills sizes, owners, archetypes and capacities of known servers;
stg_raw__servers reads inventories with and without the optional columns."""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import capfc, isolated_env

from capacity_forecaster.importers.contract import merge_inventory


@pytest.fixture
def raw(tmp_path):
    root = tmp_path / "raw"
    merge_inventory(root, [{"server_id": s, "archetype": "unknown"} for s in ("vm-1", "vm-2", "vm-3")])
    return root


def test_fills_and_overwrites_known_servers(raw, tmp_path):
    (tmp_path / "inv.csv").write_text(
        "server_id,archetype,vcpus,memory_gb,owner,business_unit,disk_mbps,network_mbps,last_resized_date\n"
        "vm-1,database,8,32,dba-team,payments,250,1000,2024-02-01\n"
        "vm-2,web,2,,web-team,,,,\n"
    )
    done = capfc("import", "inventory", str(tmp_path / "inv.csv"), "--raw-root", str(raw))
    assert "2 servers updated, 0 added" in done.stdout
    (tmp_path / "fix.csv").write_text("server_id,vcpus\nvm-2,4\n")  # a second pass overwrites one cell
    capfc("import", "inventory", str(tmp_path / "fix.csv"), "--raw-root", str(raw))
    inv = pd.read_parquet(raw / "inventory" / "servers.parquet").set_index("server_id")
    assert inv.loc["vm-1", "archetype"] == "database" and inv.loc["vm-1", "memory_gb"] == 32
    assert inv.loc["vm-1", "disk_mbps"] == 250.0 and inv.loc["vm-1", "owner"] == "dba-team"
    assert str(inv.loc["vm-1", "last_resized_date"]) == "2024-02-01"
    assert inv.loc["vm-2", "vcpus"] == 4 and inv.loc["vm-2", "owner"] == "web-team"
    assert pd.isna(inv.loc["vm-2", "memory_gb"])  # empty cells leave values as they were
    assert inv.loc["vm-3", "archetype"] == "unknown" and pd.isna(inv.loc["vm-3", "vcpus"])
    schema = pq.read_schema(raw / "inventory" / "servers.parquet")
    assert schema.field("vcpus").type == pa.int32() and schema.field("network_mbps").type == pa.float64()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("server_id,colour\nvm-1,red\n", "unknown column(s) colour; inventory columns: server_id, archetype"),
        ("server_id,vcpus\nvm-9,4\nvm-8,2\n", "2 server(s) not in the inventory (vm-9, vm-8)"),
        ("server_id,vcpus\nvm-1,four\n", "line 2, column 'vcpus': 'four' is not a whole number"),
        ("server_id,disk_mbps\nvm-1,0\n", "line 2, column 'disk_mbps': '0' must be above 0"),
        ("server_id,last_resized_date\nvm-1,01/02/2024\n", "'01/02/2024' is not a date YYYY-MM-DD"),
        ("server_id,vcpus\nvm-1,4\nvm-1,8\n", "line 3: server 'vm-1' appears twice"),
        ("host,vcpus\nvm-1,4\n", "no server_id column"),
    ],
)
def test_bad_inventory_files_are_one_line_errors(raw, tmp_path, content, message):
    before = (raw / "inventory" / "servers.parquet").read_bytes()
    (tmp_path / "inv.csv").write_text(content)
    done = capfc("import", "inventory", str(tmp_path / "inv.csv"), "--raw-root", str(raw), check=False)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert (raw / "inventory" / "servers.parquet").read_bytes() == before  # nothing written


def test_add_new_servers_on_request(raw, tmp_path):
    (tmp_path / "inv.csv").write_text("server_id,vcpus,memory_gb\nvm-9,4,16\n")
    done = capfc("import", "inventory", str(tmp_path / "inv.csv"), "--add-new", "--raw-root", str(raw))
    assert "0 servers updated, 1 added" in done.stdout
    inv = pd.read_parquet(raw / "inventory" / "servers.parquet").set_index("server_id")
    assert inv.loc["vm-9", "archetype"] == "unknown" and inv.loc["vm-9", "vcpus"] == 4


@pytest.mark.dbt
def test_staging_reads_inventories_with_and_without_optional_columns(tmp_path):
    """One inventory file in the pre-import shape (no owner, capacities, last resize), one
    with them: stg_raw__servers has every column, typed, NULL where a file lacks it."""
    raw = tmp_path / "raw"
    (raw / "inventory").mkdir(parents=True)
    pq.write_table(
        pa.table(
            {
                "server_id": ["old-1"],
                "archetype": ["web"],
                "instance_type": ["m6i.large"],
                "vcpus": pa.array([2], pa.int32()),
                "memory_gb": pa.array([8], pa.int32()),
                "region": ["eu-west-1"],
                "business_unit": ["retail"],
                "environment": ["prod"],
                "commissioned_date": pa.array([None], pa.date32()),
                "decommissioned_date": pa.array([None], pa.date32()),
            }
        ),
        raw / "inventory" / "legacy.parquet",
    )
    merge_inventory(
        raw, [{"server_id": "new-1", "archetype": "unknown", "owner": "sre", "network_mbps": 1000.0}]
    )
    work = tmp_path / "build"
    capfc("build", "--raw-root", str(raw), "--select", "stg_raw__servers", env=isolated_env(work))
    with duckdb.connect(str(work / "warehouse" / "capacity_forecaster.duckdb"), read_only=True) as con:
        types = dict(
            con.sql(
                "select column_name, column_type from (describe main_staging.stg_raw__servers)"
            ).fetchall()
        )
        rows = (
            con.sql("select * from main_staging.stg_raw__servers order by server_id")
            .df()
            .set_index("server_id")
        )
    assert types["owner"] == "VARCHAR" and types["disk_mbps"] == "DOUBLE" and types["vcpus"] == "INTEGER"
    assert types["last_resized_date"] == "DATE" and types["is_size_known"] == "BOOLEAN"
    assert rows.loc["new-1", "owner"] == "sre" and rows.loc["new-1", "network_mbps"] == 1000.0
    assert pd.isna(rows.loc["old-1", "owner"]) and rows.loc["old-1", "vcpus"] == 2
    assert rows.loc["old-1", "is_size_known"] and not rows.loc["new-1", "is_size_known"]
