"""Rebuild progress: a rich bar on a terminal, plain lines elsewhere, both with an ETA."""

import io

from eventhex_django_adapter.projections._progress import PlainProgress, progress_for


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_with_counts_and_time_left() -> None:
    out = Terminal()
    progress = progress_for("shop.orders", out)
    assert not isinstance(progress, PlainProgress)
    progress.start(40)
    progress.advance(25)
    progress.advance(25)  # more than counted at the start: the total grows
    progress.finish()
    text = out.getvalue()
    assert "rebuild shop.orders" in text
    assert "50/50" in text
    assert "ETA" in text


def test_a_pipe_gets_plain_lines() -> None:
    out = io.StringIO()
    progress = progress_for("shop.orders", out)
    assert isinstance(progress, PlainProgress)
    progress.start(4)
    progress.advance(4)
    progress.finish()
    lines = out.getvalue().splitlines()
    assert lines[0] == "rebuild shop.orders: 0 / 4 events (0.0%), ETA -"
    assert lines[-1].startswith("rebuild shop.orders: 4 / 4 events (100.0%), ")
    assert lines[-1].endswith(" s")
