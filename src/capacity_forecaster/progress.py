"""What a long step is doing, on stderr: milestones (`log`) and throttled progress lines
(`Progress`: what, done / total, rate, ETA), shared by the CLI and the dbt Python models.

dbt shows a Python model's stderr as it runs (its own log file, logs/dbt.log, holds dbt's
lines only), so these lines are the only sign of life inside a long model. To keep logs
readable, progress lines are throttled globally: at most one every `LOG_INTERVAL_SECONDS`
when stderr is a file or pipe (the last one of a task always prints), or one line rewritten
in place every half second on a terminal. Milestones always print.

`quiet_third_party()` silences what libraries print on their own (Prophet's "Importing
plotly failed", cmdstanpy's INFO lines), and must run before Prophet is imported.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TypeVar

PREFIX = "[capacity_forecaster]"
LOG_INTERVAL_SECONDS = 15.0  # files and pipes (dbt, CI): one progress line per 15 s at most
TTY_INTERVAL_SECONDS = 0.5  # a terminal: the line is rewritten in place

T = TypeVar("T")
_lock = threading.Lock()
_last_line = [0.0]  # monotonic time of the last line written (any task)


def _stream() -> IO[str]:
    return sys.stderr


def log(message: str) -> None:
    """A milestone line (always printed)."""
    with _lock:
        print(f"{PREFIX} {message}", file=_stream(), flush=True)
        _last_line[0] = time.monotonic()


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Progress:
    """done / total of one task, e.g. `Progress("prophet fits", 480, unit="series")`.

    Call it with (done, total) (the callback shape long operations take), or `advance(n)`.
    `clock` and `stream` are injectable for tests; with a stream of its own, a task is
    throttled on its own instead of with every other line on stderr."""

    def __init__(
        self,
        label: str,
        total: int | None = None,
        unit: str = "",
        prefix: str = PREFIX,
        clock: Callable[[], float] = time.monotonic,
        stream: IO[str] | None = None,
    ) -> None:
        self.label, self.total, self.unit, self.prefix = label, total, unit, prefix
        self.clock = clock
        self.stream = stream
        self.done = 0
        self.started = clock()
        self._last = [0.0] if stream is not None else _last_line
        self._finished = False
        self.tty = bool(getattr(self._out(), "isatty", lambda: False)())
        self.interval = TTY_INTERVAL_SECONDS if self.tty else LOG_INTERVAL_SECONDS

    def _out(self) -> IO[str]:
        return self.stream or _stream()

    def line(self) -> str:
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = self.done / elapsed
        unit = f" {self.unit}" if self.unit else ""
        head = f"{self.prefix} {self.label}: " if self.prefix else f"{self.label}: "
        if not self.total:
            return f"{head}{self.done:,}{unit} ({rate:,.1f}/s, {_duration(elapsed)})"
        share = 100.0 * self.done / self.total
        text = f"{head}{self.done:,}/{self.total:,}{unit} ({share:.0f} %, {rate:,.1f}/s"
        if self.done >= self.total:
            return f"{text}, took {_duration(elapsed)})"
        eta = _duration((self.total - self.done) / rate) if self.done else "?"
        return f"{text}, ETA {eta})"

    def __call__(self, done: int, total: int | None = None) -> None:
        if total is not None:
            self.total = total
        self.done = done
        if self._finished:
            return
        final = bool(self.total) and done >= (self.total or 0)
        now = self.clock()
        if not final and now - self._last[0] < self.interval:
            return
        with _lock:
            if self.tty:
                print(f"\r{self.line()}", end="\n" if final else "", file=self._out(), flush=True)
            else:
                print(self.line(), file=self._out(), flush=True)
            self._last[0] = now
        self._finished = final

    def advance(self, n: int = 1) -> None:
        self(self.done + n)


def track(items: Iterable[T], label: str, total: int, unit: str = "") -> Iterator[T]:
    """Yield from `items`, reporting progress after each one."""
    progress = Progress(label, total, unit)
    for item in items:
        yield item
        progress.advance()


# numpy's warnings for statistics of all-missing slices: the code asks for NaN there on
# purpose (a series with no data in a window). Filtered process-wide: warnings.catch_warnings
# is not thread-safe, and dbt runs two Python models at a time.
_NUMPY_EMPTY_SLICE = (
    "Mean of empty slice",
    "All-NaN slice encountered",
    "All-NaN axis encountered",
    "Degrees of freedom <= 0 for slice",
)


def quiet_third_party() -> None:
    """Silence library chatter that is not ours to print. Idempotent; call before importing
    Prophet (its plotting module logs an error at import when plotly is absent, and we never
    plot), in every worker process that imports it, and at the start of a Python model."""
    for message in _NUMPY_EMPTY_SLICE:
        warnings.filterwarnings("ignore", message=message, category=RuntimeWarning)
    for name in ("prophet", "prophet.plot", "prophet.models", "cmdstanpy"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.CRITICAL)
        logger.propagate = False
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())
