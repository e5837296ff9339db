"""`capfc import prometheus`: node_exporter metrics through the Prometheus HTTP API.

Each metric is one PromQL expression of 5-minute rates, and the hourly P95 is computed by
Prometheus: `quantile_over_time(0.95, (<expr>)[3599s:5m])` evaluated at the end of each UTC
hour H+1h. The 3599 s range keeps exactly the 12 points H+5m ... H+60m (Prometheus 2.x ranges
are closed on the left, so `[1h:5m]` would add the point at H, which belongs to the previous
hour); each point's 5-minute rate covers the 5 minutes before it.

* cpu: busy % = 100 x (1 - average idle rate of the instance's CPUs)
* memory: used % = 100 x (1 - MemAvailable / MemTotal)
* disk_io: I/O time % = 100 x rate(node_disk_io_time_seconds_total) of the busiest device
* network: (receive + transmit bytes/s) / link speed (node_network_speed_bytes) x 100, over
  physical interfaces; where an instance reports no speed, `network_capacity` (e.g.
  1Gbit/s) is used, and without it the instance's network is left missing (reported).

Requests are chunked in time (`chunk_hours` points per series per request) and retried with
exponential backoff on connection errors, 429 and 5xx. The `instance` label is the server_id;
the inventory gets vCPUs, memory and link speed from the same server.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from capacity_forecaster.importers.contract import merge_inventory, request_output_name, write_hourly
from capacity_forecaster.importers.errors import ImportInputError
from capacity_forecaster.importers.units import parse_constant

HOUR = 3600
DEVICES = 'device!~"lo|veth.*|docker.*|br-.*|virbr.*|cni.*|flannel.*|cali.*|tun.*|vxlan.*"'
IDLE = 'mode="idle"'
_MATCHER = r'\s*[A-Za-z_][A-Za-z0-9_]*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*'
_SELECTOR_RE = re.compile(rf"^({_MATCHER}(,{_MATCHER})*,?)?$")


@dataclass
class PrometheusOptions:
    url: str
    start: dt.datetime
    end: dt.datetime
    selector: str = ""  # label matchers added to every series selector, e.g. job="node"
    network_capacity: str | None = None  # e.g. 1Gbit/s, for instances without a link speed
    chunk_hours: int = 168
    archetype: str = "unknown"
    retries: int = 5
    backoff_seconds: float = 1.0
    timeout_seconds: float = 60.0


@dataclass
class PrometheusImportResult:
    instances: int
    hourly_rows: int
    servers_added: int
    days: int
    requests: int
    retries: int
    output_name: str
    values: dict[str, int] = field(default_factory=dict)  # hourly values per metric
    without_link_speed: list[str] = field(default_factory=list)
    overlaps: int = 0
    overlap_files: list[str] = field(default_factory=list)

    def summary(self, raw_root: str) -> list[str]:
        counts = ", ".join(f"{m} {n:,}" for m, n in self.values.items())
        lines = [
            f"prometheus: {self.instances} instances -> {self.hourly_rows:,} hourly rows over "
            f"{self.days} UTC days ({counts} hourly P95 values; "
            f"{self.servers_added} new in the inventory) in "
            f"{raw_root}/metrics/date=*/{self.output_name} ({self.requests} requests, {self.retries} retried)"
        ]
        if self.without_link_speed:
            lines.append(
                f"  network: {len(self.without_link_speed)} instance(s) report no node_network_speed_bytes "
                f"({', '.join(self.without_link_speed[:5])}); their network is missing "
                "(pass --network-capacity, e.g. 1Gbit/s)"
            )
        if self.overlaps:
            lines.append(
                f"  overlap: {self.overlaps:,} server-hours are also in {', '.join(self.overlap_files[:3])} "
                "(the quality gate keeps the first file by name)"
            )
        return lines


class _Client:
    def __init__(self, options: PrometheusOptions):
        self.base = options.url.rstrip("/")
        if not re.match(r"^https?://", self.base):
            raise ImportInputError(f"--url must start with http:// or https://, got {options.url!r}")
        self.options = options
        self.requests = 0
        self.retries = 0

    def get(self, path: str, params: dict[str, str]) -> list[dict]:
        """POST a query (form-encoded, no URL length limit); the `result` list."""
        body = urllib.parse.urlencode(params).encode()
        last = ""
        for attempt in range(self.options.retries + 1):
            if attempt:
                self.retries += 1
                time.sleep(min(self.options.backoff_seconds * 2 ** (attempt - 1), 30))
            self.requests += 1
            request = urllib.request.Request(f"{self.base}{path}", data=body, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.options.timeout_seconds) as response:
                    payload = json.load(response)
            except urllib.error.HTTPError as exc:
                detail = _error_text(exc)
                if exc.code == 429 or exc.code >= 500:
                    last = f"HTTP {exc.code}: {detail}"
                    continue
                raise ImportInputError(f"Prometheus at {self.base} refused the query: {detail}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                last = str(getattr(exc, "reason", exc))
                continue
            if payload.get("status") != "success":
                raise ImportInputError(f"Prometheus at {self.base}: {payload.get('error', payload)}")
            return payload["data"]["result"]
        raise ImportInputError(
            f"cannot reach Prometheus at {self.base} after {self.options.retries + 1} attempts: {last}"
        )


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        return json.loads(exc.read().decode()).get("error", exc.reason)
    except (ValueError, OSError):
        return str(exc.reason)


def _matchers(selector: str) -> str:
    inner = selector.strip()
    if inner.startswith("{") and inner.endswith("}"):
        inner = inner[1:-1]
    if not _SELECTOR_RE.match(inner):
        raise ImportInputError(
            f'--selector must be label matchers such as job="node",env=~"prod|stage"; got {selector!r}'
        )
    return inner.strip().rstrip(",")


def _series(name: str, selector: str, *matchers: str) -> str:
    return f"{name}{{{','.join(m for m in (*matchers, selector) if m)}}}"


def expressions(selector: str, capacity_bytes_per_s: float | None) -> dict[str, str]:
    """PromQL per contract metric: a percent value at each instant, one series per instance."""

    def series(name: str, *matchers: str) -> str:
        return _series(name, selector, *matchers)

    traffic = (
        f"sum by (instance) (rate({series('node_network_receive_bytes_total', DEVICES)}[5m]) "
        f"+ rate({series('node_network_transmit_bytes_total', DEVICES)}[5m]))"
    )
    speed = f"sum by (instance) ({series('node_network_speed_bytes', DEVICES)} > 0)"
    out = {
        "cpu": f"100 * (1 - avg by (instance) (rate({series('node_cpu_seconds_total', IDLE)}[5m])))",
        "memory": (
            f"100 * (1 - max by (instance) ({series('node_memory_MemAvailable_bytes')}) "
            f"/ max by (instance) ({series('node_memory_MemTotal_bytes')}))"
        ),
        "disk_io": f"100 * max by (instance) (rate({series('node_disk_io_time_seconds_total')}[5m]))",
        "network": f"100 * {traffic} / {speed}",
    }
    if capacity_bytes_per_s:  # instances without a link speed use the given capacity
        out["network"] += f" or 100 * {traffic} / {capacity_bytes_per_s!r}"
    return out


def _hours(start: dt.datetime, end: dt.datetime) -> tuple[int, int]:
    """[first, last) hour starts, epoch seconds: start floored, end rounded up to whole hours."""
    first = int(start.timestamp()) // HOUR * HOUR
    last = -(-int(end.timestamp()) // HOUR) * HOUR
    if last <= first:
        raise ImportInputError("--end must be after --start")
    return first, last


def _hourly_p95(client: _Client, expression: str, first: int, last: int, chunk_hours: int) -> pd.DataFrame:
    query = f"quantile_over_time(0.95, ({expression})[3599s:5m])"
    rows = []
    for chunk_start in range(first, last, chunk_hours * HOUR):
        chunk_end = min(chunk_start + chunk_hours * HOUR, last) - HOUR  # last hour start in chunk
        result = client.get(
            "/api/v1/query_range",
            {
                "query": query,
                "start": str(chunk_start + HOUR),
                "end": str(chunk_end + HOUR),
                "step": str(HOUR),
            },
        )
        for series in result:
            instance = series["metric"].get("instance")
            rows += [(instance, int(float(t)) - HOUR, float(v)) for t, v in series["values"]]
    return pd.DataFrame(rows, columns=["server_id", "hour_s", "value"])


def _instant(client: _Client, expression: str, at: int) -> dict[str, float]:
    result = client.get("/api/v1/query", {"query": expression, "time": str(at)})
    return {s["metric"].get("instance"): float(s["value"][1]) for s in result}


def import_prometheus(
    out_root: Path, options: PrometheusOptions, contract_metrics: Sequence[str]
) -> PrometheusImportResult:
    if options.chunk_hours < 1:
        raise ImportInputError("--chunk-hours must be at least 1")
    selector = _matchers(options.selector)
    capacity = None
    if options.network_capacity:
        parsed = parse_constant(options.network_capacity)
        if not parsed or parsed[1].dimension != "bytes_per_second" or parsed[0] <= 0:
            raise ImportInputError(
                f"--network-capacity must be a rate such as 1Gbit/s, got {options.network_capacity!r}"
            )
        capacity = parsed[0] * parsed[1].factor
    first, last = _hours(options.start, options.end)
    client = _Client(options)
    queries = {m: e for m, e in expressions(selector, capacity).items() if m in contract_metrics}
    frames = []
    for metric, expression in queries.items():
        frame = _hourly_p95(client, expression, first, last, options.chunk_hours)
        frames.append(frame.assign(metric=metric))
    data = pd.concat(frames, ignore_index=True)
    data = data[data.server_id.notna()]
    if data.empty:
        raise ImportInputError(
            f"Prometheus at {client.base} has no node_exporter data between "
            f"{dt.datetime.fromtimestamp(first, dt.UTC):%Y-%m-%d %H:%M} and "
            f"{dt.datetime.fromtimestamp(last, dt.UTC):%Y-%m-%d %H:%M} UTC"
            + (f" for {{{selector}}}" if selector else "")
        )
    window = f"{last - first}s"
    cpus = _series("node_cpu_seconds_total", selector, IDLE)
    total = _series("node_memory_MemTotal_bytes", selector)
    link = _series("node_network_speed_bytes", selector, DEVICES)
    vcpus = _instant(client, f"count by (instance) (last_over_time({cpus}[{window}]))", last)
    memory = _instant(client, f"max by (instance) (last_over_time({total}[{window}]))", last)
    speed = _instant(client, f"sum by (instance) (last_over_time({link}[{window}]) > 0)", last)

    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.register("samples", data)
    columns = ", ".join(
        f"max(value) filter (where metric = '{m}') as {m}_p95"
        if m in queries
        else f"cast(null as double) as {m}_p95"
        for m in contract_metrics
    )
    con.execute(f"""create temp table hourly as
        select make_timestamp(hour_s * 1000000) as hour, server_id, {columns}
        from samples group by hour_s, server_id""")
    name = request_output_name("prometheus", client.base, selector, first, last, capacity)
    written = write_hourly(con, "hourly", out_root, name, contract_metrics)
    instances = sorted(data.server_id.unique())
    added = merge_inventory(
        out_root,
        [
            {
                "server_id": instance,
                "archetype": options.archetype,
                "vcpus": int(vcpus[instance]) if instance in vcpus else None,
                "memory_gb": round(memory[instance] / 1024**3) if instance in memory else None,
                "network_mbps": speed[instance] * 8 / 1e6 if instance in speed else None,
            }
            for instance in instances
        ],
    )
    values = {m: int(data[(data.metric == m) & data.value.notna()].shape[0]) for m in queries}
    return PrometheusImportResult(
        instances=len(instances),
        hourly_rows=written.hourly_rows,
        servers_added=added,
        days=written.days,
        requests=client.requests,
        retries=client.retries,
        output_name=name,
        values=values,
        without_link_speed=[] if capacity else [i for i in instances if i not in speed],
        overlaps=written.overlaps,
        overlap_files=written.overlap_files,
    )
