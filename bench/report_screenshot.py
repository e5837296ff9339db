"""Render the report of a warehouse and screenshot it in headless Chromium, as a reader sees it
at 100 % zoom (1280 px wide): the top of the page by default, or the page from a section on.

    .venv/bin/python bench/report_screenshot.py                      # published warehouse
    .venv/bin/python bench/report_screenshot.py --section accuracy --out /tmp/accuracy.png

Writes bench/results/report_screenshot.png (the README links it) and, for the default output,
bench/results/report_screenshot.json: the command, the warehouse it showed (release, data
through), the render time and what was drawn. Times are for the machine they ran on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import duckdb

from capacity_forecaster.report import browser, render_report
from capacity_forecaster.report.build import ReportResult

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "bench" / "results" / "report_screenshot.png"
# Removes everything above the section, so the screenshot (which captures the page top) starts
# there; the page's own script still runs.
FROM_SECTION = """(function () {
  var t = document.getElementById(%s);
  while (t && t.previousElementSibling && t.previousElementSibling.tagName !== 'STYLE') {
    t.previousElementSibling.remove();
  }
})();"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", type=Path, default=ROOT / "warehouse" / "capacity_forecaster.duckdb")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--section", help="start at this section id (e.g. capacity, accuracy)")
    parser.add_argument("--height", type=int, default=2400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        result = render_report(args.database, folder / "report")
        page = result.index
        if args.section:
            page = browser.probe_page(page, FROM_SECTION % json.dumps(args.section))
        window = (1280, args.height)
        _, log = browser.run(page.as_uri(), folder / "profile", screenshot=args.out, window=window)
        errors = browser.console_errors(log)
        if args.out.resolve() == DEFAULT_OUT:
            _record(args, result, errors)
    print(
        f"{args.out}: {args.out.stat().st_size:,} bytes; report rendered in {result.seconds:.1f}s "
        f"({result.at_risk_servers} at-risk servers, {result.charts} charts)"
        + (f"; console errors: {errors}" if errors else "")
    )
    return 1 if errors else 0


def _record(args: argparse.Namespace, result: ReportResult, errors: list[str]) -> None:
    with duckdb.connect(str(args.database), read_only=True) as con:
        meta = con.sql(
            "select any_value(release_id), max(data_through), max(published_at) "
            "from main_marts.warehouse_meta"
        ).fetchone()
        servers, first = con.sql(
            "select count(distinct server_id), min(metric_date) from main_marts.fct_server_daily_metrics"
        ).fetchone()
    record = {
        "command": " ".join(["python", "bench/report_screenshot.py", *sys.argv[1:]]),
        "machine": {
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "note": "shared machine (other developers' jobs running)",
        },
        "warehouse": {
            "release_id": meta[0],
            "data_from": str(first),
            "data_through": str(meta[1]),
            "published_at": str(meta[2]),
            "servers": servers,
        },
        "report": {
            "render_seconds": round(result.seconds, 2),
            "at_risk_servers": result.at_risk_servers,
            "charts": result.charts,
            "index_html_kb": round(result.index.stat().st_size / 1024, 1),
            "console_errors": errors,
        },
        "screenshot": {"path": str(args.out.relative_to(ROOT)), "width": 1280, "height": args.height},
    }
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
