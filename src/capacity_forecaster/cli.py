"""`capfc`: generate a fleet, push it to S3, build the warehouse, render the report, or all."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from capacity_forecaster.config import ConfigError, find_project_dir, load_vars, parse_vars_arg


def _progress(label: str):
    """Progress on stderr (capacity_forecaster.progress: one line rewritten on a terminal,
    throttled lines in logs)."""
    from capacity_forecaster.progress import Progress

    return Progress(label, prefix="")


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
    _refuse_foreign_data(_resolve(project_dir, cfg["raw_root"]), getattr(args, "force", False))
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


def _refuse_foreign_data(raw_root: Path, force: bool) -> None:
    """generate replaces metrics/ and the inventory: never silently over imported data."""
    from capacity_forecaster.importers.contract import foreign_files

    found = foreign_files(raw_root)
    if found and not force:
        raise ConfigError(
            f"{raw_root} holds {len(found)} file(s) that generate did not write (imported data, e.g. "
            f"{found[0].relative_to(raw_root)}); generate would delete them and overwrite the inventory: "
            "use another --raw-root, or pass --force to replace them"
        )


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
    from capacity_forecaster.warehouse import build_and_publish, warehouse_dir

    project_dir, overrides, cfg = _context(args)
    if not cfg["raw_root"].startswith("s3://"):
        cache = warehouse_dir(project_dir) / "build" / "preflight_passed.json"
        check_raw_root(_resolve(project_dir, cfg["raw_root"]), cache)
    if getattr(args, "retrain", False):  # refit and re-backtest now, whatever the cadence says
        overrides = {**overrides, "force_retrain": True}
    dbt_args = ["build", *(["--full-refresh"] if args.full_refresh else [])]
    if args.select:
        dbt_args += ["--select", *args.select]
    if args.exclude:
        dbt_args += ["--exclude", *args.exclude]
    published = build_and_publish(project_dir, overrides, cfg["raw_root"], dbt_args)
    print(f"published warehouse: {published}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from capacity_forecaster.warehouse import PUBLISHED_FILE, build_lock, publish, warehouse_dir

    project_dir, _, cfg = _context(args)
    folder = warehouse_dir(project_dir)
    if not args.to:  # re-publish the last build, e.g. after a publish that ran out of disk
        with build_lock(folder):
            print(f"published warehouse: {publish(folder, project_dir)}")
        return 0
    from capacity_forecaster.mart_export import export_marts

    result = export_marts(
        Path(args.database) if args.database else folder / PUBLISHED_FILE,
        args.to,
        endpoint_url=args.endpoint_url,
        profile=args.profile or cfg["aws_profile"],
        athena_database=args.athena_database,
        progress=_progress("writing objects"),
    )
    print(
        f"{result.target}: {len(result.rows)} marts, {sum(result.rows.values()):,} rows; "
        f"{len(result.uploaded)} objects written, {len(result.skipped)} unchanged, "
        f"{len(result.deleted)} stale removed; verified {result.objects_verified} objects, "
        f"{result.bytes_verified:,} bytes"
    )
    return 0


def _pairs(pairs: list[str] | None, option: str, example: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"{option} takes {example}, got {pair!r}")
        if key in out:
            raise ConfigError(f"{option} {key} is given twice ({out[key]!r} and {value!r})")
        out[key] = value
    return out


def _check_timezone(name: str) -> str:
    """The zone must be one DuckDB (which reads the timestamps) knows, e.g. Europe/Paris."""
    import duckdb

    with duckdb.connect() as con:
        known = con.execute("select count(*) from pg_timezone_names() where name = ?", [name]).fetchone()
    if not known or not known[0]:
        raise ConfigError(
            f"--timezone {name!r}: unknown time zone; use an IANA name such as Europe/Paris or UTC"
        )
    return name


def _utc(text: str | None, option: str) -> dt.datetime | None:
    """--start/--end: an ISO date or date-time, UTC unless it carries an offset."""
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option} must be an ISO date or date-time (UTC), got {text!r}") from None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _local_raw_root(project_dir: Path, cfg: dict[str, Any]) -> Path:
    if cfg["raw_root"].startswith("s3://"):
        raise ConfigError("imports write to a local raw_root; import there, then `capfc push`")
    return _resolve(project_dir, cfg["raw_root"])


def _import_options(args: argparse.Namespace, metrics: list[str]):
    from capacity_forecaster.importers.tabular import ImportOptions, MetricMapping

    named = _pairs(args.metric, "--metric", "METRIC=NAME (e.g. cpu=cpu.pct or disk_io=read+write)")
    columns = {m: tuple(c.strip() for c in v.split("+")) for m, v in named.items()}
    units = _pairs(
        [u if "=" in u else f"*={u}" for u in args.unit or []], "--unit", "METRIC=UNIT (e.g. disk_io=KB/s)"
    )
    capacities = _pairs(args.capacity, "--capacity", "METRIC=CAPACITY (e.g. network=1Gbit/s)")
    for option, given in (("--metric", columns), ("--unit", units), ("--capacity", capacities)):
        unknown = sorted(key for key in given if key != "*" and key not in metrics)
        if unknown:
            raise ConfigError(
                f"{option} {', '.join(unknown)}: not a metric; the metrics are {', '.join(metrics)}"
            )
    shared = sorted({c for c in columns.values() if list(columns.values()).count(c) > 1})
    if shared:
        raise ConfigError(f"--metric maps several metrics to the same column/value {'+'.join(shared[0])!r}")
    mappings = {
        m: MetricMapping(m, columns.get(m, ()), units.get(m), capacities.get(m))
        for m in metrics
        if m in columns or m in units or m in capacities
    }
    return ImportOptions(
        layout=args.layout,
        timestamp_column=args.timestamp_column,
        timestamp_format=args.timestamp_format,
        server_column=args.server_column,
        metric_column=args.metric_column,
        value_column=args.value_column,
        mappings=mappings,
        default_unit=units.get("*", "auto"),
        timezone=_check_timezone(args.timezone),
        decimal_comma=args.decimal_comma,
        start=_utc(args.start, "--start"),
        end=_utc(args.end, "--end"),
        archetype=args.archetype,
    )


def cmd_import_files(args: argparse.Namespace) -> int:
    from capacity_forecaster.importers.errors import reported_as_input_errors
    from capacity_forecaster.importers.tabular import import_file

    project_dir, _, cfg = _context(args)
    out = _local_raw_root(project_dir, cfg)
    options = _import_options(args, list(cfg["metrics"]))
    for path in args.files:
        started = time.monotonic()
        with reported_as_input_errors():
            result = import_file(Path(path), out, options, list(cfg["metrics"]), fmt=args.source)
        for line in result.summary(cfg["raw_root"], options.timezone):
            print(line)
        print(f"  took {time.monotonic() - started:.1f}s")
    return 0


def cmd_import_inventory(args: argparse.Namespace) -> int:
    from capacity_forecaster.importers.errors import reported_as_input_errors
    from capacity_forecaster.importers.inventory import import_inventory

    project_dir, _, cfg = _context(args)
    with reported_as_input_errors():
        result = import_inventory(Path(args.file), _local_raw_root(project_dir, cfg), add_new=args.add_new)
    print(
        f"{args.file}: {result.updated} servers updated, {result.added} added "
        f"({', '.join(result.columns)}) in {cfg['raw_root']}/inventory/servers.parquet"
    )
    return 0


def cmd_import_prometheus(args: argparse.Namespace) -> int:
    from capacity_forecaster.importers.errors import reported_as_input_errors
    from capacity_forecaster.importers.prometheus import PrometheusOptions, import_prometheus

    project_dir, _, cfg = _context(args)
    start, end = _utc(args.start, "--start"), _utc(args.end, "--end")
    assert start is not None and end is not None  # both options are required by the parser
    with reported_as_input_errors():
        result = import_prometheus(
            _local_raw_root(project_dir, cfg),
            PrometheusOptions(
                url=args.url,
                start=start,
                end=end,
                selector=args.selector or "",
                network_capacity=args.network_capacity,
                chunk_hours=args.chunk_hours,
                archetype=args.archetype,
            ),
            list(cfg["metrics"]),
        )
    for line in result.summary(cfg["raw_root"]):
        print(line)
    return 0


def cmd_import_cloudwatch(args: argparse.Namespace) -> int:
    from capacity_forecaster.importers.cloudwatch import import_cloudwatch

    project_dir, _, cfg = _context(args)
    tags = _pairs(args.tag, "--tag", "KEY=VALUE") if args.tag else None
    parse = lambda text: dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)  # noqa: E731
    result = import_cloudwatch(
        _local_raw_root(project_dir, cfg),
        parse(args.start),
        parse(args.end),
        capacities=cfg["instance_capacity"],
        instance_ids=args.instance_id,
        tags=tags,
        region=args.region,
        endpoint_url=args.endpoint_url,
        profile=args.profile or cfg["aws_profile"],
        metrics=list(cfg["metrics"]),
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
    with open(database, "rb") as fh:  # DuckDB's header: 8 bytes, then the magic "DUCK"
        if fh.read(12)[8:] != b"DUCK":
            raise ConfigError(f"{database} is not a DuckDB warehouse file")
    out = Path(args.out) if args.out else warehouse_dir(project_dir) / "report"
    result = render_report(database, out)
    print(
        f"report: {result.index} and {result.eda} ({result.at_risk_servers} at-risk servers, "
        f"{result.charts} charts, {result.seconds:.1f}s)"
    )
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


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line with exit 2, like every other user error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="capfc", description=__doc__)
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
        p.add_argument(
            "--force", action="store_true", help="replace a raw root that holds imported data (deletes it)"
        )

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
    build.add_argument(
        "--retrain",
        action="store_true",
        help="refit and re-backtest every model now (default: on the cadence of var retrain_every_days)",
    )
    build.add_argument("--select", nargs="+", help="dbt node selection")
    build.add_argument("--exclude", nargs="+", help="dbt nodes to leave out")
    build.set_defaults(func=cmd_build)

    pub = sub.add_parser(
        "publish",
        help="re-publish the last build; with --to, export the public marts as Parquet + Athena DDL",
    )
    pub.add_argument("--to", help="s3://bucket/prefix or a folder (default: re-publish the warehouse)")
    pub.add_argument("--database", help="DuckDB file to export (default: the published warehouse)")
    pub.add_argument("--endpoint-url", help="S3-compatible endpoint, e.g. http://127.0.0.1:9000")
    pub.add_argument("--profile", help="AWS profile (var aws_profile)")
    pub.add_argument("--athena-database", default="capacity_forecaster", help="database named in the DDL")
    pub.set_defaults(func=cmd_publish)

    report = sub.add_parser("report", help="render the static HTML report from the warehouse")
    report.add_argument("--database", help="DuckDB file (default: the published warehouse)")
    report.add_argument("--out", help="output folder (default: warehouse/report)")
    report.set_defaults(func=cmd_report)

    def file_import_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--layout",
            choices=["long", "wide"],
            default="long",
            help="long: timestamp,server,metric,value; wide: a column per metric",
        )
        p.add_argument("--timestamp-column", default="timestamp")
        p.add_argument(
            "--timestamp-format",
            choices=["iso", "epoch-s", "epoch-ms"],
            default="iso",
            help="iso: text or native timestamps; epoch-s / epoch-ms: numbers since 1970 (UTC)",
        )
        p.add_argument("--server-column", default="server_id")
        p.add_argument("--metric-column", default="metric", help="long layout")
        p.add_argument("--value-column", default="value", help="long layout")
        p.add_argument(
            "--metric",
            action="append",
            metavar="METRIC=NAME[+NAME]",
            help="column (wide) or metric name (long) of a contract metric; + sums several",
        )
        p.add_argument(
            "--unit",
            "--units",
            action="append",
            metavar="[METRIC=]UNIT",
            help="auto (default), percent, fraction, or an absolute unit (MHz, KB, KB/s, Mbit/s...)",
        )
        p.add_argument(
            "--capacity",
            action="append",
            metavar="METRIC=CAPACITY",
            help="a column (COLUMN[@UNIT]), 'inventory' or a constant (1Gbit/s) turning the metric into %%",
        )
        p.add_argument("--timezone", default="UTC", help="IANA zone of timestamps without an offset")
        p.add_argument("--decimal-comma", action="store_true", help="numbers are written 85,2")
        p.add_argument("--start", help="keep samples at or after this UTC date-time")
        p.add_argument("--end", help="keep samples before this UTC date-time")
        p.add_argument("--archetype", default="unknown", help="archetype for new servers")
        p.add_argument("--raw-root", help="override var raw_root")

    imp = sub.add_parser("import", help="import real metrics into the raw contract")
    imp_sub = imp.add_subparsers(dest="source", required=True)
    for fmt, what in (("csv", "CSV exports"), ("parquet", "Parquet exports")):
        files = imp_sub.add_parser(fmt, help=f"{what}: long or wide, any sampling interval, any unit")
        files.add_argument("files", nargs="+", help=f"{fmt.upper()} files")
        file_import_options(files)
        files.set_defaults(func=cmd_import_files)

    inv = imp_sub.add_parser("inventory", help="fill or overwrite inventory columns of known servers")
    inv.add_argument("file", help="CSV with server_id and any of the inventory columns")
    inv.add_argument("--add-new", action="store_true", help="add servers not yet in the inventory")
    inv.add_argument("--raw-root", help="override var raw_root")
    inv.set_defaults(func=cmd_import_inventory)

    prom = imp_sub.add_parser("prometheus", help="node_exporter metrics via the Prometheus HTTP API")
    prom.add_argument("--url", required=True, help="Prometheus base URL, e.g. http://prometheus:9090")
    prom.add_argument("--start", required=True, help="UTC start, YYYY-MM-DD[THH:MM]")
    prom.add_argument("--end", required=True, help="UTC end (exclusive), YYYY-MM-DD[THH:MM]")
    prom.add_argument("--selector", help='label matchers added to every query, e.g. job="node",env="prod"')
    prom.add_argument(
        "--network-capacity",
        help="link speed where node_network_speed_bytes is absent, e.g. 1Gbit/s",
    )
    prom.add_argument("--chunk-hours", type=int, default=168, help="hours per query_range request")
    prom.add_argument("--archetype", default="unknown", help="archetype for new servers")
    prom.add_argument("--raw-root", help="override var raw_root")
    prom.set_defaults(func=cmd_import_prometheus)

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
    run.add_argument("--retrain", action="store_true", help="refit and re-backtest every model now")
    run.set_defaults(func=cmd_run)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "fix the input, the config or the environment", not a bug."""
    import duckdb
    import yaml

    from capacity_forecaster.importers.cloudwatch import CloudWatchImportError
    from capacity_forecaster.importers.errors import ImportInputError
    from capacity_forecaster.mart_export import ExportError
    from capacity_forecaster.preflight import RawDataError
    from capacity_forecaster.s3_push import PushError
    from capacity_forecaster.warehouse import BuildError

    return (
        ConfigError,  # bad --vars, var values, options
        RawDataError,  # unusable raw files (one line per file)
        PushError,
        BuildError,
        ImportInputError,
        CloudWatchImportError,
        ExportError,
        ValueError,  # e.g. a date that does not parse
        yaml.YAMLError,  # a broken dbt_project.yml
        OSError,  # missing or unreadable paths, a full disk
        duckdb.IOException,  # a file that is not what it should be (e.g. --database)
    )


def _message(exc: BaseException) -> str:
    """The error's first paragraph on one line; a list of files keeps one line per file."""
    from capacity_forecaster.preflight import RawDataError

    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, RawDataError):
        return text
    return " ".join(text.split("\n\n")[0].split())


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand. Contract: a user error prints `capfc <command>: error: <why>` on
    stderr and exits 2, never a traceback (CAPFC_DEBUG=1 shows one); Ctrl-C exits 130; any
    other exception is a bug and keeps its traceback."""
    args = build_parser().parse_args(argv)
    command = args.command + (f" {args.source}" if args.command == "import" else "")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"capfc {command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("CAPFC_DEBUG") or not isinstance(exc, _user_errors()):
            raise
        print(f"capfc {command}: error: {_message(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
