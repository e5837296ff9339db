"""Naive local timestamps -> UTC, with DST transitions counted and resolved by one rule.

Rule: a local time inside a transition window is read with the UTC offset in force just
before the transition. For an ambiguous time (the repeated hour when clocks go back) that is
the first occurrence (daylight-saving time); for a nonexistent time (the hour skipped when
clocks go forward) it is the time shifted forward by the gap (02:30 -> 03:30 local).

The importer joins each sample's local date to `zone_days` (one row per local date): the
offset before and after any transition that day and the transition window in local time.
Zone rules come from the system tz database (Python's zoneinfo), not from DuckDB's ICU.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import lru_cache

import pyarrow as pa

from capacity_forecaster.importers.errors import ImportInputError

FIRST_DAY = dt.date(1970, 1, 1)
LAST_DAY = dt.date(2100, 12, 31)


def zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImportInputError(
            f"unknown --timezone {name!r}: use an IANA zone name such as Europe/Berlin, Asia/Kolkata or UTC"
        ) from None


def is_utc(name: str) -> bool:
    return name.upper() in ("UTC", "ETC/UTC", "Z", "GMT", "ETC/GMT")


def _offset(tz: zoneinfo.ZoneInfo, instant: dt.datetime) -> int:
    return int(instant.astimezone(tz).utcoffset().total_seconds())  # type: ignore[union-attr]


def _transition(tz: zoneinfo.ZoneInfo, lo: dt.datetime, hi: dt.datetime) -> dt.datetime:
    """The first UTC instant in (lo, hi] with the offset of hi (bisection to the second)."""
    target = _offset(tz, hi)
    while (hi - lo).total_seconds() > 1:
        mid = lo + (hi - lo) / 2
        if _offset(tz, mid) == target:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)


def transitions(tz: zoneinfo.ZoneInfo) -> list[tuple[dt.datetime, dt.datetime, int, int]]:
    """(window_start, window_end) in local time with the offsets before and after, 1970-2100."""
    out = []
    step = dt.timedelta(days=7)  # zones change offset at most twice a year
    probe = dt.datetime.combine(FIRST_DAY, dt.time(), dt.UTC) - step
    previous = _offset(tz, probe)
    while probe.date() <= LAST_DAY:
        probe += step
        current = _offset(tz, probe)
        if current != previous:
            instant = _transition(tz, probe - step, probe).replace(tzinfo=None)
            lo, hi = sorted((previous, current))
            out.append(
                (instant + dt.timedelta(seconds=lo), instant + dt.timedelta(seconds=hi), previous, current)
            )
            previous = current
    return out


@lru_cache(maxsize=8)
def zone_days(name: str) -> pa.Table:
    """One row per local date 1970-2100: the offsets (seconds east of UTC) in force before and
    after that day's transition window [window_start, window_end) (local time), if any."""
    tz = zone(name)
    first = dt.datetime.combine(FIRST_DAY, dt.time(), dt.UTC)
    steady = {FIRST_DAY: _offset(tz, first)}
    windows: dict[dt.date, tuple[dt.datetime | None, dt.datetime | None, int, int]] = {}
    for start, end, before, after in transitions(tz):
        for n in range((end.date() - start.date()).days + 1):
            windows[start.date() + dt.timedelta(days=n)] = (start, end, before, after)
        steady[end.date() + dt.timedelta(days=1)] = after
    columns: dict[str, list] = {k: [] for k in ("day", "before", "after", "start", "end", "kind")}
    offset = steady[FIRST_DAY]
    day = FIRST_DAY
    while day <= LAST_DAY:
        offset = steady.get(day, offset)
        window_start, window_end, before, after = windows.get(day, (None, None, offset, offset))
        columns["day"].append(day)
        columns["before"].append(before)
        columns["after"].append(after)
        columns["start"].append(window_start)
        columns["end"].append(window_end)
        kind = None if window_start is None else "ambiguous" if after < before else "nonexistent"
        columns["kind"].append(kind)
        day += dt.timedelta(days=1)
    return pa.table(
        {
            "local_date": pa.array(columns["day"], pa.date32()),
            "offset_before_s": pa.array(columns["before"], pa.int32()),
            "offset_after_s": pa.array(columns["after"], pa.int32()),
            "window_start": pa.array(columns["start"], pa.timestamp("us")),
            "window_end": pa.array(columns["end"], pa.timestamp("us")),
            "window_kind": pa.array(columns["kind"], pa.string()),
        }
    )
