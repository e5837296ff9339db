"""Headless Chromium for the report's browser test and screenshot (Debian's `chromium`).

The flags keep it offline: without the background-networking ones Chromium keeps trying to
reach Google's hosts, which a closed network refuses. A *probe* is a copy of a page with a
script appended that runs after load and writes what it measured (fonts as drawn, a sort by
a real click, ...) into an attribute of <html>, which `--dump-dom` then prints.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
)
PROBE_ATTRIBUTE = "data-probe"


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def run(
    url: str,
    profile: Path,
    screenshot: Path | None = None,
    window: tuple[int, int] = (1280, 4000),
    budget_ms: int = 3000,
    timeout: int = 120,
) -> tuple[str, str]:
    """(DOM after load, or '' with a screenshot; Chromium's log)."""
    binary = chromium_binary()
    if binary is None:
        raise FileNotFoundError("chromium is not installed (Debian package chromium)")
    command = [
        binary,
        *FLAGS,
        f"--user-data-dir={profile}",
        f"--window-size={window[0]},{window[1]}",
        f"--virtual-time-budget={budget_ms}",
        f"--screenshot={screenshot}" if screenshot else "--dump-dom",
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    return done.stdout, done.stderr


def console_errors(log: str) -> list[str]:
    """Uncaught exceptions and console.error lines of the page, from Chromium's log."""
    lines = log.splitlines()
    return [line for line in lines if "CONSOLE" in line and ("Uncaught" in line or "Error" in line)]


def probe_page(page: Path, script: str) -> Path:
    """A sibling copy of `page` (same folder, so relative links work) with `script` appended."""
    probe = page.with_name(f"{page.stem}.probe.html")
    text = page.read_text(encoding="utf-8")
    probe.write_text(text.replace("</body>", f"<script>{script}</script></body>"), encoding="utf-8")
    return probe


def probe_result(dom: str) -> dict[str, Any]:
    match = re.search(rf'{PROBE_ATTRIBUTE}="([^"]*)"', dom)
    if not match:
        raise AssertionError("the probe script did not report (no data-probe attribute in the DOM)")
    return json.loads(html.unescape(match.group(1)))
