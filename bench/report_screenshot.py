"""Render the report of a warehouse and screenshot it in headless Chromium, as a reader sees it
at 100 % zoom (1280 px wide): the top of the page by default, or the page from a section on.

    .venv/bin/python bench/report_screenshot.py                      # published warehouse
    .venv/bin/python bench/report_screenshot.py --section accuracy --out /tmp/accuracy.png

Writes bench/results/report_screenshot.png (the README links it) and prints the render time.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from capacity_forecaster.report import browser, render_report

ROOT = Path(__file__).resolve().parents[1]
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
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "report_screenshot.png")
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
    print(
        f"{args.out}: {args.out.stat().st_size:,} bytes; report rendered in {result.seconds:.1f}s "
        f"({result.at_risk_servers} at-risk servers, {result.charts} charts)"
        + (f"; console errors: {errors}" if errors else "")
    )
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
