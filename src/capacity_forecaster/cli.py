"""`capfc`: generate a fleet, push it to S3, build the warehouse, render the report, or all."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

from capacity_forecaster.config import ConfigError, find_project_dir, load_vars, parse_vars_arg


def _progress(label: str):
    """A progress line on stderr, refreshed at most every half second (log-friendly)."""
    started = time.monotonic()
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - last[0] < 0.5:
            return
        last[0] = now
        rate = done / max(now - started, 1e-9)
        end = "\n" if done >= total else ""
        print(f"\r{label}: {done}/{total} ({rate:,.0f}/s)", end=end, file=sys.stderr, flush=True)

    return report


def _context(args: argparse.Namespace) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    project_dir = find_project_dir(Path(args.project_dir) if args.project_dir else None)
    overrides = parse_vars_arg(args.vars)
    if getattr(args, "raw_root", None):
        overrides["raw_root"] = args.raw_root
    return project_dir, overrides, load_vars(project_dir, overrides)


def _resolve(project_dir: Path, location: str) -> Path:
    path = Path(location)
    return path if path.is_absolute() else project_dir / path


def cmd_generate(args: argparse.Namespace) -> int:
    from capacity_forecaster.generator import FleetSpec, generate_fleet

    project_dir, _, cfg = _context(args)
    if cfg["raw_root"].startswith("s3://"):
        raise ConfigError("generate writes locally; generate, then `capfc push`")
    days = args.days or cfg["fleet_days"]
    start = args.start or cfg["fleet_start"]
    spec = FleetSpec(
        servers=args.servers or cfg["fleet_servers"],
        days=days,
        start=dt.date.fromisoformat(str(start)) if start else dt.date.today() - dt.timedelta(days=days),
        seed=cfg["fleet_seed"] if args.seed is None else args.seed,
        future_days=cfg["fleet_future_days"] if args.future_days is None else args.future_days,
        holidays=tuple(cfg["holidays"]),
        metrics=tuple(cfg["metrics"]),
    )
    started = time.monotonic()
    result = generate_fleet(
        spec,
        _resolve(project_dir, cfg["raw_root"]),
        _resolve(project_dir, cfg["truth_root"]),
        seed_csv=Path(args.seed_csv) if args.seed_csv else None,
        thresholds=(cfg["high_risk_threshold"], cfg["very_high_risk_threshold"]),
        progress=_progress("simulating days"),
    )
    print(
        f"generated {result.servers} servers x {spec.days} days from {spec.start}: "
        f"{result.metrics_rows:,} hourly rows -> {cfg['raw_root']}, "
        f"{result.truth_rows:,} future rows -> {cfg['truth_root']} "
        f"({result.bytes_written / 1e6:,.1f} MB, {time.monotonic() - started:.1f}s)"
    )
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from capacity_forecaster.s3_push import push_dataset

    project_dir, _, cfg = _context(args)
    local = Path(args.source) if args.source else _resolve(project_dir, cfg["raw_root"])
    bucket, prefix = args.bucket or cfg["s3_bucket"], args.prefix or cfg["s3_prefix"]
    result = push_dataset(
        local,
        bucket,
        prefix,
        profile=args.profile or cfg["aws_profile"],
        endpoint_url=args.endpoint_url,
        delete_extraneous=args.delete_extraneous,
        progress=_progress("uploading objects"),
    )
    print(
        f"s3://{bucket}/{prefix}/: {len(result.uploaded)} uploaded, {len(result.skipped)} "
        f"unchanged; verified {result.objects_verified} objects, {result.bytes_verified:,} bytes"
    )
    if result.extraneous:
        print(
            f"note: {len(result.extraneous)} object(s) under the prefix are not in {local} "
            "(use --delete-extraneous to remove them)"
        )
    print(f"build from it with: capfc build --raw-root s3://{bucket}/{prefix}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from capacity_forecaster.preflight import check_raw_root
    from capacity_forecaster.warehouse import build_and_publish

    project_dir, overrides, cfg = _context(args)
    if not cfg["raw_root"].startswith("s3://"):
        check_raw_root(_resolve(project_dir, cfg["raw_root"]))
    dbt_args = ["build", *(["--full-refresh"] if args.full_refresh else [])]
    if args.select:
        dbt_args += ["--select", *args.select]
    if args.exclude:
        dbt_args += ["--exclude", *args.exclude]
    published = build_and_publish(project_dir, overrides, cfg["raw_root"], dbt_args)
    print(f"published warehouse: {published}")
    return 0


def _metric_map(pairs: list[str] | None) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        metric, sep, name = pair.partition("=")
        if not sep:
            raise ConfigError(f"--metric takes METRIC=NAME (e.g. cpu=cpu.pct), got {pair!r}")
        out[metric] = name
    return out


def cmd_import_csv(args: argparse.Namespace) -> int:
    from capacity_forecaster.importers.csv_import import import_csv

    project_dir, _, cfg = _context(args)
    out = _resolve(project_dir, cfg["raw_root"])
    for path in args.files:
        result = import_csv(
            Path(path),
            out,
            layout=args.layout,
            timestamp_column=args.timestamp_column,
            server_column=args.server_column,
            metric_column=args.metric_column,
            value_column=args.value_column,
            metric_map=_metric_map(args.metric),
            timezone=args.timezone,
            units=args.units,
            archetype=args.archetype,
        )
        step = f"{result.sampling_minutes:g}-minute" if result.sampling_minutes else "unknown"
        print(
            f"{path}: {result.rows_in:,} rows ({step} samples, {result.units}) -> "
            f"{result.hourly_rows:,} hourly rows for {result.servers} servers "
            f"({result.servers_added} new in the inventory) in {cfg['raw_root']}"
        )
    return 0


def cmd_import_cloudwatch(args: argparse.Namespace) -> int:
    from capacity_forecaster.importers.cloudwatch import import_cloudwatch

    project_dir, _, cfg = _context(args)
    tags = dict(_metric_map(args.tag)) if args.tag else None
    parse = lambda text: dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)  # noqa: E731
    result = import_cloudwatch(
        _resolve(project_dir, cfg["raw_root"]),
        parse(args.start),
        parse(args.end),
        capacities=cfg["instance_capacity"],
        instance_ids=args.instance_id,
        tags=tags,
        region=args.region,
        endpoint_url=args.endpoint_url,
        profile=args.profile or cfg["aws_profile"],
    )
    print(
        f"{result.instances} instances -> {result.hourly_rows:,} hourly rows in {cfg['raw_root']} "
        f"({result.statistic_source})"
    )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from capacity_forecaster.report import render_report
    from capacity_forecaster.warehouse import PUBLISHED_FILE, warehouse_dir

    project_dir = find_project_dir(Path(args.project_dir) if args.project_dir else None)
    database = Path(args.database) if args.database else warehouse_dir(project_dir) / PUBLISHED_FILE
    if not database.exists():
        raise ConfigError(f"no warehouse at {database}: run `capfc build` first")
    out = Path(args.out) if args.out else warehouse_dir(project_dir) / "report"
    result = render_report(database, out)
    print(f"report: {result.index} and {result.eda} ({result.seconds:.1f}s)")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    project_dir, _, cfg = _context(args)
    raw = cfg["raw_root"]
    if not raw.startswith("s3://"):
        has_data = any((_resolve(project_dir, raw) / "metrics").glob("date=*"))
        if args.regenerate or not has_data:
            cmd_generate(args)
        else:
            print(f"using existing raw data in {raw} (--regenerate to simulate a new fleet)")
    args.full_refresh, args.select, args.exclude = False, None, None
    cmd_build(args)
    args.database, args.out = None, None
    return cmd_report(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="capfc", description=__doc__)
    parser.add_argument("--project-dir", help="folder with dbt_project.yml (default: search up)")
    parser.add_argument("--vars", help="YAML/JSON mapping overriding dbt_project.yml vars")
    sub = parser.add_subparsers(dest="command", required=True)

    def fleet_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--servers", type=int, help="fleet size (var fleet_servers)")
        p.add_argument("--days", type=int, help="days of history (var fleet_days)")
        p.add_argument("--start", help="first day, YYYY-MM-DD (default: end yesterday)")
        p.add_argument("--seed", type=int, help="random seed (var fleet_seed)")
        p.add_argument("--future-days", type=int, help="also simulate N hidden future days into truth_root")
        p.add_argument("--seed-csv", help="also write the seed's server_metrics.csv.gz here")
        p.add_argument("--raw-root", help="override var raw_root")

    gen = sub.add_parser("generate", help="simulate a synthetic fleet into the raw contract")
    fleet_options(gen)
    gen.set_defaults(func=cmd_generate)

    push = sub.add_parser("push", help="upload the raw contract to S3 (idempotent)")
    push.add_argument("--source", help="local raw folder (default: var raw_root)")
    push.add_argument("--bucket", help="var s3_bucket")
    push.add_argument("--prefix", help="var s3_prefix")
    push.add_argument("--profile", help="AWS profile (var aws_profile)")
    push.add_argument("--endpoint-url", help="S3-compatible endpoint, e.g. http://127.0.0.1:9000")
    push.add_argument(
        "--delete-extraneous",
        action="store_true",
        help="delete objects under the prefix that are not in the local folder",
    )
    push.add_argument("--raw-root", help=argparse.SUPPRESS)
    push.set_defaults(func=cmd_push)

    build = sub.add_parser("build", help="dbt build into a private file, then publish atomically")
    build.add_argument("--raw-root", help="read raw data from here (path or s3://bucket/prefix)")
    build.add_argument("--full-refresh", action="store_true", help="rebuild incremental models")
    build.add_argument("--select", nargs="+", help="dbt node selection")
    build.add_argument("--exclude", nargs="+", help="dbt nodes to leave out")
    build.set_defaults(func=cmd_build)

    report = sub.add_parser("report", help="render the static HTML report from the warehouse")
    report.add_argument("--database", help="DuckDB file (default: the published warehouse)")
    report.add_argument("--out", help="output folder (default: warehouse/report)")
    report.set_defaults(func=cmd_report)

    imp = sub.add_parser("import", help="import real metrics into the raw contract")
    imp_sub = imp.add_subparsers(dest="source", required=True)
    csv = imp_sub.add_parser("csv", help="long or wide CSV exports, any sampling interval")
    csv.add_argument("files", nargs="+", help="CSV files")
    csv.add_argument(
        "--layout",
        choices=["long", "wide"],
        default="long",
        help="long: timestamp,server,metric,value; wide: a column per metric",
    )
    csv.add_argument("--timestamp-column", default="timestamp")
    csv.add_argument("--server-column", default="server_id")
    csv.add_argument("--metric-column", default="metric", help="long layout")
    csv.add_argument("--value-column", default="value", help="long layout")
    csv.add_argument(
        "--metric",
        action="append",
        metavar="METRIC=NAME",
        help="map cpu|memory|disk_io|network to the file's metric value or column",
    )
    csv.add_argument("--timezone", default="UTC", help="zone of timestamps without an offset")
    csv.add_argument("--units", choices=["auto", "percent", "fraction"], default="auto")
    csv.add_argument("--archetype", default="unknown", help="archetype for new servers")
    csv.add_argument("--raw-root", help="override var raw_root")
    csv.set_defaults(func=cmd_import_csv)

    cw = imp_sub.add_parser("cloudwatch", help="EC2 / CloudWatch-agent metrics via GetMetricData")
    cw.add_argument("--instance-id", action="append", help="instance id (repeatable)")
    cw.add_argument("--tag", action="append", metavar="KEY=VALUE", help="tag filter (repeatable)")
    cw.add_argument("--start", required=True, help="UTC start, YYYY-MM-DD[THH:MM]")
    cw.add_argument("--end", required=True, help="UTC end, YYYY-MM-DD[THH:MM]")
    cw.add_argument("--region", help="AWS region (default: the credential chain's, else us-east-1)")
    cw.add_argument("--endpoint-url", help="CloudWatch/EC2-compatible endpoint")
    cw.add_argument("--profile", help="AWS profile (var aws_profile)")
    cw.add_argument("--raw-root", help="override var raw_root")
    cw.set_defaults(func=cmd_import_cloudwatch)

    run = sub.add_parser("run", help="everything: generate (if no raw data), build, report")
    fleet_options(run)
    run.add_argument("--regenerate", action="store_true", help="simulate a new fleet first")
    run.set_defaults(func=cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as exc:  # one clear line for known failures, not a traceback
        from capacity_forecaster.importers.cloudwatch import CloudWatchImportError
        from capacity_forecaster.importers.csv_import import CsvImportError
        from capacity_forecaster.preflight import RawDataError
        from capacity_forecaster.s3_push import PushError
        from capacity_forecaster.warehouse import BuildError

        if isinstance(
            exc,
            ConfigError
            | PushError
            | BuildError
            | RawDataError
            | CsvImportError
            | CloudWatchImportError
            | ValueError,
        ):
            print(f"capfc {args.command}: error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
