"""Inline SVG charts. Every text that comes from data is escaped (markupsafe), so a server
named `<script>` renders as text; the charts need no JavaScript and no network."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 640, 220, 36


def _scale(values: Sequence[float], lo: float, hi: float, out_lo: float, out_hi: float) -> list[float]:
    span = (hi - lo) or 1.0
    return [out_lo + (v - lo) / span * (out_hi - out_lo) for v in values]


def forecast_chart(
    title: str, history: list[tuple[str, float]], forecast: list[dict], thresholds: Sequence[float]
) -> Markup:
    """Actual daily P95 (line), forecast (dashed) with 80 % and 95 % bands, threshold lines."""
    n_hist, n_fc = len(history), len(forecast)
    total = max(n_hist + n_fc, 2)
    xs = _scale(list(range(total)), 0, total - 1, PAD, WIDTH - 8)

    def y(v: float) -> float:
        return _scale([v], 0, 100, HEIGHT - PAD, 8)[0]

    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for tick in (0, 25, 50, 75, 100):
        parts.append(
            f'<line x1="{PAD}" x2="{WIDTH - 8}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" class="grid"/>'
            f'<text x="4" y="{y(tick) + 4:.1f}" class="axis">{tick}%</text>'
        )
    for threshold in thresholds:
        parts.append(
            f'<line x1="{PAD}" x2="{WIDTH - 8}" y1="{y(threshold):.1f}" '
            f'y2="{y(threshold):.1f}" class="threshold"/>'
        )
    if forecast:
        fx = xs[n_hist:]
        for lo_key, hi_key, css in (("lower_95", "upper_95", "band95"), ("lower_80", "upper_80", "band80")):
            upper = " ".join(f"{x:.1f},{y(p[hi_key]):.1f}" for x, p in zip(fx, forecast, strict=True))
            lower = " ".join(
                f"{x:.1f},{y(p[lo_key]):.1f}" for x, p in reversed(list(zip(fx, forecast, strict=True)))
            )
            parts.append(f'<polygon class="{css}" points="{upper} {lower}"/>')
        line = " ".join(f"{x:.1f},{y(p['yhat']):.1f}" for x, p in zip(fx, forecast, strict=True))
        parts.append(f'<polyline class="forecast" points="{line}"/>')
    if history:
        points = zip(xs, history, strict=False)
        line = " ".join(f"{x:.1f},{y(v):.1f}" for x, (_, v) in points if v is not None)
        parts.append(f'<polyline class="actual" points="{line}"/>')
        parts.append(f'<text x="{PAD}" y="{HEIGHT - 6}" class="axis">{escape(history[0][0])}</text>')
    if forecast:
        parts.append(
            f'<text x="{WIDTH - 90}" y="{HEIGHT - 6}" class="axis">{escape(forecast[-1]["date"])}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(
    title: str, items: list[tuple[str, float]], unit: str = "", reference: float | None = None
) -> Markup:
    """Horizontal bars; an optional reference line (e.g. MASE 1 = seasonal naive)."""
    if not items:
        return Markup("")
    row, label_w = 22, 170
    height = row * len(items) + 24
    top = max(max(v for _, v in items), reference or 0) * 1.1 or 1.0
    width = WIDTH - label_w - 60
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(items):
        w = max(0.0, value) / top * width
        top_y = i * row
        parts.append(
            f'<text x="4" y="{top_y + 15}" class="axis">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{top_y + 4}" width="{w:.1f}" height="{row - 8}" class="bar"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{top_y + 15}" class="axis">'
            f"{value:.2f}{escape(unit)}</text>"
        )
    if reference is not None:
        x = label_w + reference / top * width
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{height - 20}" class="threshold"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def heat_color(value: float | None, lo: float = 0.0, hi: float = 1.0) -> str:
    """White -> red for a value in [lo, hi] (CSS colour)."""
    if value is None:
        return "#f3f3f3"
    t = min(1.0, max(0.0, (value - lo) / ((hi - lo) or 1.0)))
    return f"rgb(255,{int(255 - 175 * t)},{int(255 - 200 * t)})"
