"""`capfc import inventory FILE.csv`: fill or overwrite inventory columns of known servers.

The CSV has `server_id` and any of the inventory columns (sizes, owner, archetype, business
unit, capacities...). A non-empty cell overwrites the server's value; an empty cell leaves it.
Unknown columns, unknown servers (unless `add_new`), repeated servers and values of the wrong
type stop the import with one line naming the file, row and column; nothing is written.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from capacity_forecaster.importers.contract import (
    INVENTORY_COLUMNS,
    INVENTORY_FILE,
    inventory_server_ids,
    read_inventory,
    write_inventory,
)
from capacity_forecaster.importers.errors import ImportInputError

POSITIVE = {"vcpus", "memory_gb", "disk_mbps", "network_mbps"}


@dataclass
class InventoryImportResult:
    updated: int
    added: int
    columns: list[str]


def _parse(value: str, column: str, where: str) -> object:
    kind = INVENTORY_COLUMNS[column]
    try:
        if pa.types.is_integer(kind):
            parsed: object = int(value)
        elif pa.types.is_floating(kind):
            parsed = float(value)
        elif pa.types.is_date(kind):
            return dt.date.fromisoformat(value)
        else:
            return value
    except ValueError:
        expected = {"int32": "a whole number", "double": "a number", "date32[day]": "a date YYYY-MM-DD"}
        raise ImportInputError(f"{where}: {value!r} is not {expected.get(str(kind), str(kind))}") from None
    if column in POSITIVE and not parsed > 0:  # type: ignore[operator]
        raise ImportInputError(f"{where}: {value!r} must be above 0")
    return parsed


def import_inventory(path: Path, raw_root: Path, *, add_new: bool = False) -> InventoryImportResult:
    if not path.is_file():
        raise ImportInputError(f"{path}: no such file")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in reader.fieldnames or []]
        rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    if "server_id" not in header:
        raise ImportInputError(f"{path}: no server_id column; columns: {', '.join(header) or '(none)'}")
    unknown = [h for h in header if h not in INVENTORY_COLUMNS]
    if unknown:
        raise ImportInputError(
            f"{path}: unknown column(s) {', '.join(unknown)}; "
            f"inventory columns: {', '.join(INVENTORY_COLUMNS)}"
        )
    existing = {r["server_id"]: r for r in read_inventory(raw_root)}
    elsewhere = inventory_server_ids(raw_root) - set(existing)
    updates: dict[str, dict] = {}
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        server = row.get("server_id", "")
        if not server:
            raise ImportInputError(f"{path}: line {number}: server_id is empty")
        if server in updates:
            raise ImportInputError(f"{path}: line {number}: server {server!r} appears twice")
        if server in elsewhere:
            raise ImportInputError(
                f"{path}: line {number}: server {server!r} is in another inventory file than "
                f"{INVENTORY_FILE}; change it there"
            )
        updates[server] = {
            column: _parse(value, column, f"{path}: line {number}, column {column!r}")
            for column, value in row.items()
            if column != "server_id" and value != ""
        }
    new = [s for s in updates if s not in existing]
    if new and not add_new:
        shown = ", ".join(new[:5]) + (" ..." if len(new) > 5 else "")
        raise ImportInputError(
            f"{path}: {len(new)} server(s) not in the inventory ({shown}); import their metrics first "
            "or pass --add-new"
        )
    for server, values in updates.items():
        row = existing.setdefault(server, {"server_id": server, "archetype": "unknown"})
        row.update(values)
    write_inventory(raw_root, list(existing.values()))
    columns = [h for h in header if h != "server_id"]
    return InventoryImportResult(len(updates) - len(new), len(new), columns)
