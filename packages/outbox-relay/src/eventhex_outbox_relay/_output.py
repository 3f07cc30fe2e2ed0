"""What the commands print: JSON when asked, rich tables on a terminal, plain lines otherwise.

Every text that came from outside (ids, a broker's answer in a last error) is escaped with
:func:`~eventhex_core_ports._internal.logs.printable` and handed to rich as plain text, never as
markup.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from eventhex_core_ports._internal.logs import printable

__all__ = ["Output", "progress"]


class Output:
    """One command's standard output.

    Args:
        as_json: Print JSON (``--json``) whatever standard output is.
        console: Where to print (standard output; a terminal gets tables and colours).
    """

    def __init__(self, as_json: bool, console: Console | None = None) -> None:
        self.as_json = as_json
        self.console = console or Console(highlight=False, soft_wrap=True)

    @property
    def rich(self) -> bool:
        """Whether to print tables: not JSON, and standard output is a terminal."""
        return not self.as_json and self.console.is_terminal

    def json(self, value: Any) -> None:
        """One JSON document on one line."""
        self.console.out(json.dumps(value, default=str), highlight=False)

    def line(self, text: str) -> None:
        """A plain line, escaped."""
        self.console.out(printable(text), highlight=False)

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        """A table of escaped plain-text cells."""
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(Text(printable(str(cell))) for cell in row))
        self.console.print(table)


@contextmanager
def progress(total: int, done: Callable[[], int], label: str) -> Iterator[None]:
    """Show a bar with the count and an ETA on standard error while the block runs, when
    standard error is a terminal; ``done()`` is polled from a thread a few times a second."""
    console = Console(stderr=True)
    if not console.is_terminal or total <= 0:
        yield
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    task = bar.add_task(label, total=total)
    finished = threading.Event()

    def poll() -> None:
        while not finished.wait(0.2):
            count = done()
            bar.update(task, completed=count, total=max(total, count))

    watcher = threading.Thread(target=poll, daemon=True)
    with bar:
        watcher.start()
        try:
            yield
        finally:
            finished.set()
            watcher.join()
            count = done()
            bar.update(task, completed=count, total=max(total, count))
