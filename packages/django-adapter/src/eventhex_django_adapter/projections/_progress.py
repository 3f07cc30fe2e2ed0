"""Rebuild progress: a ``rich`` progress bar when ``rich`` is installed, else plain lines."""

import sys
import time
from importlib import import_module
from typing import Any, Protocol, TextIO

__all__ = ["PlainProgress", "Progress", "progress_for"]


class Progress(Protocol):
    """Shows how far a replay got and when it will end."""

    def start(self, total: int) -> None:
        """The replay begins; ``total`` events are selected now (more may come)."""

    def advance(self, count: int) -> None:
        """``count`` more events were applied."""

    def finish(self) -> None:
        """The replay ended."""


def _eta(done: int, total: int, elapsed: float) -> str:
    if done <= 0 or elapsed <= 0:
        return "ETA -"
    rate = done / elapsed
    left = max(total - done, 0) / rate
    return f"{rate:,.0f} events/s, ETA {left:,.0f} s"


class PlainProgress:
    """One line per ``every`` seconds: ``done / total (percent), rate, ETA``.

    Args:
        label: What is being replayed (the projection's name).
        out: Where lines go.
        every: Seconds between two lines.
    """

    def __init__(self, label: str, out: TextIO = sys.stdout, every: float = 1.0) -> None:
        self._label = label
        self._out = out
        self._every = every
        self._total = 0
        self._done = 0
        self._started = 0.0
        self._next = 0.0

    def start(self, total: int) -> None:
        self._total = total
        self._started = time.monotonic()
        self._next = self._started + self._every
        self._line()

    def advance(self, count: int) -> None:
        self._done += count
        self._total = max(self._total, self._done)
        if time.monotonic() >= self._next:
            self._next = time.monotonic() + self._every
            self._line()

    def finish(self) -> None:
        self._line()

    def _line(self) -> None:
        percent = 100.0 * self._done / self._total if self._total else 100.0
        eta = _eta(self._done, self._total, time.monotonic() - self._started)
        self._out.write(
            f"rebuild {self._label}: {self._done:,} / {self._total:,} events "
            f"({percent:.1f}%), {eta}\n"
        )
        self._out.flush()


class _RichProgress:
    def __init__(self, label: str, out: TextIO) -> None:
        console: Any = import_module("rich.console")
        bars: Any = import_module("rich.progress")
        self._bar: Any = bars.Progress(
            bars.TextColumn(f"rebuild {label}"),
            bars.BarColumn(),
            bars.MofNCompleteColumn(),
            bars.TextColumn("events"),
            bars.TimeElapsedColumn(),
            bars.TextColumn("ETA"),
            bars.TimeRemainingColumn(),
            console=console.Console(file=out),
        )
        self._task: Any = None
        self._done = 0
        self._total = 0

    def start(self, total: int) -> None:
        self._total = total
        self._bar.start()
        self._task = self._bar.add_task("rebuild", total=total)

    def advance(self, count: int) -> None:
        self._done += count
        if self._done > self._total:
            self._total = self._done
            self._bar.update(self._task, total=self._total)
        self._bar.advance(self._task, count)

    def finish(self) -> None:
        self._bar.stop()


def progress_for(label: str, out: TextIO = sys.stdout, plain: bool = False) -> Progress:
    """A rich progress bar on a terminal when ``rich`` is installed; plain lines otherwise."""
    if not plain and out.isatty():
        try:
            return _RichProgress(label, out)
        except ImportError:
            pass
    return PlainProgress(label, out)
