"""Axis scales for the inline SVG charts: "nice" value ticks and calendar date ticks."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def nice_range(
    values: Iterable[float],
    max_ticks: int = 6,
    clamp: tuple[float, float] | None = None,
    integer: bool = False,
) -> tuple[float, float, list[float]]:
    """(low, high, ticks) covering `values` with round steps (1, 2, 2.5 or 5 x 10^k), so the axis
    shows the band the data live in, not a fixed 0-100. `clamp` bounds the padded range (a
    percentage axis never goes below 0 or above 100 unless the data do); `integer` keeps
    steps whole (counts)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        finite = [0.0, 1.0]
    lo, hi = min(finite), max(finite)
    pad = (hi - lo) * 0.06 or max(abs(hi) * 0.1, 1.0)
    lo, hi = lo - pad, hi + pad
    if clamp:
        lo = max(lo, min(clamp[0], min(finite)))
        hi = min(hi, max(clamp[1], max(finite)))
    raw = (hi - lo) / max(max_ticks - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if integer:
        step = max(1.0, float(math.ceil(step)))
    low, high = math.floor(lo / step) * step, math.ceil(hi / step) * step
    if clamp:
        low = max(low, min(clamp[0], min(finite)))
        high = min(high, max(clamp[1], max(finite)))
    ticks, tick = [], math.ceil(low / step) * step
    while tick <= high + step * 1e-9:
        ticks.append(round(tick, 10))
        tick += step
    return low, high, ticks


def format_value(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:g}"


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def date_ticks(start: dt.date, end: dt.date, max_ticks: int = 8) -> list[tuple[dt.date, str, str]]:
    """Ticks between start and end as (day, label, second line): days or weeks on short spans,
    month or quarter starts on long ones. The second line carries the year where it changes
    (and on the first tick), so every tick reads as a date without a long label."""
    span = max((end - start).days, 1)
    for step in (1, 2, 7, 14):
        if span / step <= max_ticks:
            first = start
            if step >= 7:  # weeks start on Monday
                first = start + dt.timedelta(days=(7 - start.weekday()) % 7)
            days = [first + dt.timedelta(days=i) for i in range(0, span + 1, step)]
            days = [d for d in days if start <= d <= end]
            return _labelled(days, monthly=False)
    for months in (1, 2, 3, 6, 12, 24, 60, 120):
        if span / (30.4 * months) <= max_ticks:
            day = _add_months(dt.date(start.year, 1, 1), 0)
            while day < start or (day.month - 1) % min(months, 12):
                day = _add_months(day, 1)
            days = []
            while day <= end:
                days.append(day)
                day = _add_months(day, months)
            return _labelled(days, monthly=True)
    return _labelled([start, end], monthly=False)


def _labelled(days: list[dt.date], monthly: bool) -> list[tuple[dt.date, str, str]]:
    out, year = [], None
    for day in days:
        label = MONTHS[day.month - 1] if monthly else f"{MONTHS[day.month - 1]} {day.day}"
        out.append((day, label, str(day.year) if day.year != year else ""))
        year = day.year
    return out
