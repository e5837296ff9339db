"""Inline SVG charts, legible at 100 % zoom: drawn at their display size (12 px text), with
axis titles and units, a legend, labelled reference lines, and value axes that show the band
the data live in. Every text that comes from data is escaped (markupsafe), so a server named
`<script>` renders as text; the charts need no JavaScript and no network."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from capacity_forecaster.report.scales import date_ticks, format_value, nice_range

FONT = 12  # px; the SVGs are drawn at display size, so this is the size on screen
PALETTE = ("#1f5fbf", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#5f3dc4", "#0b7285", "#8d6e00")
PERCENT = (0.0, 100.0)


@dataclass
class Line:
    label: str
    points: Sequence[tuple[dt.date, float | None]]
    color: str = "#1d2330"
    dash: str = ""
    width: float = 1.6
    markers: bool = False


@dataclass
class Band:
    label: str
    points: Sequence[tuple[dt.date, float | None, float | None]]  # day, lower, upper
    color: str = "#1f5fbf"
    opacity: float = 0.18


@dataclass
class Rule:
    """A labelled horizontal reference line (a threshold)."""

    label: str
    value: float
    color: str = "#b42318"
    dash: str = "6 4"


@dataclass
class Frame:
    """Plot area inside the SVG, with room for tick labels, axis titles and the legend."""

    width: int
    height: int
    left: int = 58
    right: int = 16
    top: int = 34
    bottom: int = 50
    parts: list[str] = field(default_factory=list)

    @property
    def x0(self) -> float:
        return self.left

    @property
    def x1(self) -> float:
        return self.width - self.right

    @property
    def y0(self) -> float:
        return self.height - self.bottom

    @property
    def y1(self) -> float:
        return self.top


def _text(x: float, y: float, text: str, css: str = "axis", anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" class="{css}" text-anchor="{anchor}"{extra}>{escape(text)}</text>'


def _open(frame: Frame, title: str, css: str = "chart") -> None:
    frame.parts.append(
        f'<svg class="{css}" role="img" width="{frame.width}" height="{frame.height}" '
        f'viewBox="0 0 {frame.width} {frame.height}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
    )


def _close(frame: Frame) -> Markup:
    frame.parts.append("</svg>")
    return Markup("".join(frame.parts))


def _legend(frame: Frame, items: list[tuple[str, str]], y: float = 14.0) -> None:
    """One row of legend entries above the plot: (svg swatch, label)."""
    x = 10.0
    for swatch, label in items:
        frame.parts.append(f'<g transform="translate({x:.1f},{y - 4:.1f})">{swatch}</g>')
        frame.parts.append(_text(x + 22, y, label, "legend"))
        x += 32 + len(label) * 7.0


def _line_swatch(color: str, dash: str = "", width: float = 2) -> str:
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<line x1="0" x2="18" y1="0" y2="0" stroke="{color}" stroke-width="{width}"{dashed}/>'


def _box_swatch(color: str, opacity: float) -> str:
    return f'<rect x="0" y="-6" width="18" height="12" fill="{color}" fill-opacity="{opacity}"/>'


def _y_axis(frame: Frame, low: float, high: float, ticks: list[float], title: str, unit: str = ""):
    def y(v: float) -> float:
        return frame.y0 - (v - low) / ((high - low) or 1.0) * (frame.y0 - frame.y1)

    for tick in ticks:
        frame.parts.append(
            f'<line x1="{frame.x0}" x2="{frame.x1}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" class="grid"/>'
        )
        frame.parts.append(_text(frame.x0 - 6, y(tick) + 4, format_value(tick) + unit, anchor="end"))
    cx, cy = 14, (frame.y0 + frame.y1) / 2
    frame.parts.append(
        _text(cx, cy, title, "axis-title", "middle", f' transform="rotate(-90 {cx} {cy:.1f})"')
    )
    return y


def _polyline(points: list[tuple[float, float]], color: str, dash: str, width: float, css: str) -> str:
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return (
        f'<polyline class="{css}" fill="none" stroke="{color}" stroke-width="{width}"{dashed} '
        f'points="{coords}"/>'
    )


def _segments(points: Sequence[tuple[dt.date, float | None]]) -> list[list[tuple[dt.date, float]]]:
    """Split a daily series where a day is missing, so a gap is drawn as a gap."""
    runs: list[list[tuple[dt.date, float]]] = []
    previous = None
    for day, value in points:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            previous = None
            continue
        if previous is None or (day - previous).days > 1:
            runs.append([])
        runs[-1].append((day, float(value)))
        previous = day
    return runs


def time_chart(
    title: str,
    y_title: str,
    lines: Sequence[Line],
    bands: Sequence[Band] = (),
    rules: Sequence[Rule] = (),
    marker: tuple[str, dt.date] | None = None,
    width: int = 600,
    height: int = 300,
    clamp: tuple[float, float] | None = PERCENT,
    unit: str = "",
    integer: bool = False,
) -> Markup:
    """Daily series on a date axis: lines, shaded bands, labelled thresholds and a vertical
    marker (the forecast origin, the data's "today")."""
    frame = Frame(width, height)
    _open(frame, title)
    days = [d for line in lines for d, _ in line.points] + [d for band in bands for d, _, _ in band.points]
    if marker:
        days.append(marker[1])
    if not days:
        frame.parts.append(_text(width / 2, height / 2, "no data", "axis", "middle"))
        return _close(frame)
    start, end = min(days), max(days)
    if start == end:  # a single day: give it room on both sides
        start, end = start - dt.timedelta(days=1), end + dt.timedelta(days=1)
    values: list[float] = [v for line in lines for _, v in line.points if v is not None]
    values += [v for band in bands for _, lo, hi in band.points for v in (lo, hi) if v is not None]
    values += [rule.value for rule in rules]
    low, high, ticks = nice_range(values, clamp=clamp, integer=integer)
    y = _y_axis(frame, low, high, ticks, y_title, unit)
    span = (end - start).days

    def x(day: dt.date) -> float:
        return frame.x0 + (day - start).days / span * (frame.x1 - frame.x0)

    for day, label, year in date_ticks(start, end):
        frame.parts.append(
            f'<line x1="{x(day):.1f}" x2="{x(day):.1f}" y1="{frame.y0}" y2="{frame.y0 + 4}" class="tick"/>'
        )
        frame.parts.append(_text(x(day), frame.y0 + 16, label, anchor="middle"))
        if year:
            frame.parts.append(_text(x(day), frame.y0 + 29, year, anchor="middle"))
    frame.parts.append(_text((frame.x0 + frame.x1) / 2, height - 4, "date (UTC)", "axis-title", "middle"))
    frame.parts.append(
        f'<line x1="{frame.x0}" x2="{frame.x1}" y1="{frame.y0}" y2="{frame.y0}" class="baseline"/>'
    )
    line_items: list[tuple[str, str]] = []
    legend: list[tuple[str, str]] = []
    for band in bands:
        kept = [(d, lo, hi) for d, lo, hi in band.points if lo is not None and hi is not None]
        if kept:
            upper = " ".join(f"{x(d):.1f},{y(hi):.1f}" for d, _, hi in kept)
            lower = " ".join(f"{x(d):.1f},{y(lo):.1f}" for d, lo, _ in reversed(kept))
            frame.parts.append(
                f'<polygon class="band" fill="{band.color}" fill-opacity="{band.opacity}" '
                f'points="{upper} {lower}"/>'
            )
            legend.append((_box_swatch(band.color, band.opacity), band.label))
    for i, rule in enumerate(rules):
        if low <= rule.value <= high:
            ry = y(rule.value)
            frame.parts.append(
                f'<line x1="{frame.x0}" x2="{frame.x1}" y1="{ry:.1f}" y2="{ry:.1f}" '
                f'stroke="{rule.color}" stroke-width="1.4" stroke-dasharray="{rule.dash}" class="rule"/>'
            )
            # the first (lower) threshold is labelled under its line, the others above theirs,
            # so two close thresholds (80 and 90 %) never print their labels on top of each other
            below = i == 0 and len(rules) > 1 and ry + 16 < frame.y0
            fill = f' fill="{rule.color}"'
            frame.parts.append(
                _text(frame.x0 + 4, ry + (14 if below else -4), rule.label, "rule-label", extra=fill)
            )
    for line in lines:
        drawn = False
        for run in _segments(line.points):
            points = [(x(d), y(v)) for d, v in run]
            if len(points) == 1 or line.markers:
                frame.parts += [
                    f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.6" fill="{line.color}"/>' for px, py in points
                ]
            if len(points) > 1:
                frame.parts.append(_polyline(points, line.color, line.dash, line.width, "series"))
            drawn = True
        if drawn:
            line_items.append((_line_swatch(line.color, line.dash), line.label))
    if rules:
        legend.append((_line_swatch(rules[0].color, rules[0].dash, 1.4), "threshold"))
    if marker:
        mx = x(marker[1])
        frame.parts.append(
            f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="{frame.y1}" y2="{frame.y0}" class="marker"/>'
        )
        # in the margin above the plot, clear of the threshold labels inside it
        anchor = "end" if mx > frame.x0 + 0.75 * (frame.x1 - frame.x0) else "start"
        mx += -4 if anchor == "end" else 4
        frame.parts.append(_text(mx, frame.y1 - 5, marker[0], "marker-label", anchor))
        legend.append((_line_swatch("#667085", "2 3", 1.4), "origin"))
    _legend(frame, line_items + legend)
    return _close(frame)


def category_chart(
    title: str,
    y_title: str,
    categories: Sequence[str],
    lines: Sequence[tuple[str, Sequence[float | None], str, str]],
    width: int = 600,
    height: int = 300,
    clamp: tuple[float, float] | None = PERCENT,
    unit: str = "",
    legend_rows: int = 1,
) -> Markup:
    """Lines over ordered categories (quarters): (label, values, color, dash) per line."""
    frame = Frame(width, height, top=18 + 16 * legend_rows)
    _open(frame, title)
    values = [v for _, vs, _, _ in lines for v in vs if v is not None]
    if not categories or not values:
        frame.parts.append(_text(width / 2, height / 2, "no data", "axis", "middle"))
        return _close(frame)
    low, high, ticks = nice_range(values, clamp=clamp)
    y = _y_axis(frame, low, high, ticks, y_title, unit)
    n = len(categories)
    step = (frame.x1 - frame.x0) / n

    def x(i: int) -> float:
        return frame.x0 + step * (i + 0.5)

    every = max(1, math.ceil(60 / step))  # keep labels at least 60 px apart
    for i, category in enumerate(categories):
        if i % every == 0:
            frame.parts.append(_text(x(i), frame.y0 + 16, category, anchor="middle"))
    frame.parts.append(_text((frame.x0 + frame.x1) / 2, height - 6, "quarter", "axis-title", "middle"))
    frame.parts.append(
        f'<line x1="{frame.x0}" x2="{frame.x1}" y1="{frame.y0}" y2="{frame.y0}" class="baseline"/>'
    )
    for _, vs, color, dash in lines:
        run: list[tuple[float, float]] = []
        for i, v in enumerate([*vs, None]):
            if v is None:
                if len(run) > 1:
                    frame.parts.append(_polyline(run, color, dash, 2.0, "series"))
                run = []
                continue
            run.append((x(i), y(v)))
            frame.parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{color}"/>')
    per_row = math.ceil(len(lines) / legend_rows)
    for row in range(legend_rows):
        items = [(_line_swatch(c, d), lab) for lab, _, c, d in lines[row * per_row : (row + 1) * per_row]]
        _legend(frame, items, 14.0 + 16 * row)
    return _close(frame)


def reliability_chart(
    title: str, series: Sequence[tuple[str, str, Sequence[tuple[float, float, int]]]], size: int = 380
) -> Markup:
    """Calibration: mean predicted probability (x) vs observed frequency (y) per probability
    bin, one colour per series, dot area ~ judged rows; the diagonal is perfect calibration."""
    frame = Frame(size + 40, size, left=58, right=16, top=34, bottom=48)
    _open(frame, title)
    ticks = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    y = _y_axis(frame, 0.0, 1.0, ticks, "observed frequency")

    def x(v: float) -> float:
        return frame.x0 + v * (frame.x1 - frame.x0)

    for tick in ticks:
        frame.parts.append(_text(x(tick), frame.y0 + 16, format_value(tick), anchor="middle"))
    frame.parts.append(
        _text((frame.x0 + frame.x1) / 2, size - 6, "predicted probability (bin mean)", "axis-title", "middle")
    )
    frame.parts.append(
        f'<line x1="{x(0):.1f}" y1="{y(0):.1f}" x2="{x(1):.1f}" y2="{y(1):.1f}" class="diagonal"/>'
    )
    biggest = max((n for _, _, pts in series for _, _, n in pts), default=1) or 1
    legend = [(_line_swatch("#98a2b3", "4 3"), "perfect")]
    for label, color, points in series:
        ordered = sorted(points)
        if len(ordered) > 1:
            frame.parts.append(_polyline([(x(p), y(o)) for p, o, _ in ordered], color, "", 1.4, "series"))
        for p, o, n in ordered:
            r = 3 + 7 * math.sqrt(n / biggest)
            frame.parts.append(
                f'<circle cx="{x(p):.1f}" cy="{y(o):.1f}" r="{r:.1f}" fill="{color}" fill-opacity="0.55">'
                f"<title>{escape(label)}: predicted {p:.2f}, observed {o:.2f}, {n} rows</title></circle>"
            )
        legend.append((_line_swatch(color), label))
    _legend(frame, legend)
    return _close(frame)


def bar_chart(
    title: str,
    items: Sequence[tuple[str, float | None]],
    x_title: str,
    reference: tuple[str, float] | None = None,
    unit: str = "",
    width: int = 600,
    digits: int = 2,
    judge: bool = True,
) -> Markup:
    """Horizontal bars with value labels; a missing value is written as "n/a", not drawn.
    An optional labelled reference line (e.g. 1 = the 28-day mean's error)."""
    if not items:
        return Markup("")
    row, label_w = 24, 190
    frame = Frame(width, row * len(items) + 76, left=label_w, right=64, top=34, bottom=42)
    _open(frame, title)
    values = [v for _, v in items if v is not None]
    top = max([*values, reference[1] if reference else 0.0, 1e-9]) * 1.08
    _, high, ticks = nice_range([0.0, top], max_ticks=6, clamp=(0.0, math.inf))

    def x(v: float) -> float:
        return frame.x0 + max(0.0, v) / high * (frame.x1 - frame.x0)

    for tick in ticks:
        frame.parts.append(
            f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{frame.y1}" y2="{frame.y0}" class="grid"/>'
        )
        frame.parts.append(_text(x(tick), frame.y0 + 16, format_value(tick) + unit, anchor="middle"))
    frame.parts.append(_text((frame.x0 + frame.x1) / 2, frame.height - 6, x_title, "axis-title", "middle"))
    for i, (label, value) in enumerate(items):
        top_y = frame.y1 + i * row
        frame.parts.append(_text(frame.x0 - 8, top_y + 16, label, anchor="end"))
        if value is None:
            frame.parts.append(_text(frame.width - 8, top_y + 16, "n/a", anchor="end"))
            continue
        worse = judge and reference is not None and value > reference[1]
        frame.parts.append(
            f'<rect x="{frame.x0}" y="{top_y + 5}" width="{x(value) - frame.x0:.1f}" height="{row - 9}" '
            f'class="bar{" worse" if worse else ""}"/>'
        )
        frame.parts.append(_text(frame.width - 8, top_y + 16, f"{value:.{digits}f}{unit}", anchor="end"))
    legend = []
    if reference is not None:
        rx = x(reference[1])
        frame.parts.append(
            f'<line x1="{rx:.1f}" x2="{rx:.1f}" y1="{frame.y1 - 4}" y2="{frame.y0}" class="reference"/>'
        )
        legend.append((_line_swatch("#b42318", "6 4", 1.4), reference[0]))
        if judge:
            legend.append((_box_swatch("#7a9cc6", 1), "better"))
            legend.append((_box_swatch("#e8a398", 1), "worse"))
    _legend(frame, legend)
    return _close(frame)


def heat_color(value: float | None, lo: float = 0.0, hi: float = 1.0) -> str:
    """White -> red for a value in [lo, hi] (CSS colour)."""
    if value is None:
        return "#f3f3f3"
    t = min(1.0, max(0.0, (value - lo) / ((hi - lo) or 1.0)))
    return f"rgb(255,{int(255 - 175 * t)},{int(255 - 200 * t)})"
