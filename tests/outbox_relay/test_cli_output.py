"""What the commands print in each mode: ``--json``, piped (plain lines) and on a terminal
(rich tables, a progress bar with an ETA); and the logs in JSON and readable text.

Rich decides "terminal" from ``TTY_COMPATIBLE`` before anything else, so each test sets it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest

from eventhex_core_ports.in_memory.relay_source import InMemoryOutboxSource
from eventhex_outbox_relay.cli import main

SOURCES: dict[str, InMemoryOutboxSource] = {}


def prepared() -> InMemoryOutboxSource:
    """The source the running test prepared."""
    return SOURCES["current"]


SOURCE = f"{__name__}:prepared"


@pytest.fixture(autouse=True)
def outbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemoryOutboxSource]:
    for name in ("SOURCE", "PUBLISHER", "LOG_FORMAT"):
        monkeypatch.delenv(f"EVENTHEX_RELAY_{name}", raising=False)
    monkeypatch.setenv("COLUMNS", "160")
    source = InMemoryOutboxSource()
    for n in range(3):
        source.enqueue(data={"n": n}, stream_category="order")
    poison = source.enqueue(event_name="Bad\x1b[2J")
    source.claim("x", 10, timedelta(minutes=1))
    source.release("x", [1, 2, 3])
    source.dead_letter("x", poison.entry_id, "HTTP 500: \x1b[2Jgone")
    SOURCES["current"] = source
    loggers = {n: logging.getLogger(n) for n in ("eventhex", "eventhex_django_adapter")}
    saved = {n: (lg.handlers[:], lg.level, lg.propagate) for n, lg in loggers.items()}
    yield source
    for name, (handlers, level, propagate) in saved.items():
        loggers[name].handlers[:], loggers[name].propagate = handlers, propagate
        loggers[name].setLevel(level)


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")


@pytest.fixture
def piped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "0")


BOX = ("┃", "│", "━", "─")


@pytest.mark.usefixtures("piped")
def test_piped_status_and_dead_letters_are_plain_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--source", SOURCE]) == 0
    out = capsys.readouterr().out
    *counts, age = out.splitlines()
    assert counts == ["pending     3", "in flight   0", "dead        1"]
    assert age.startswith("oldest age  ")
    assert "\x1b" not in out
    assert main(["dead-letters", "list", "--source", SOURCE]) == 0
    captured = capsys.readouterr()
    [line] = captured.out.splitlines()
    assert line.startswith("4  Bad\\x1b[2J  ")
    assert line.endswith("attempts 1  error: HTTP 500: \\x1b[2Jgone")
    assert not any(mark in captured.out for mark in BOX)
    assert "1 dead letter(s)" in captured.err


@pytest.mark.usefixtures("terminal")
def test_on_a_terminal_status_and_dead_letters_are_tables(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["status", "--source", SOURCE]) == 0
    out = capsys.readouterr().out
    assert any(mark in out for mark in BOX)
    assert "pending" in out
    assert "oldest age" in out
    assert main(["dead-letters", "list", "--source", SOURCE]) == 0
    out = capsys.readouterr().out
    assert any(mark in out for mark in BOX)
    assert "1 dead letter(s)" in out
    assert "\\x1b[2Jgone" in out  # escaped, shown as text
    assert "\x1b[2J" not in out  # the raw sequence never reaches the terminal


@pytest.mark.parametrize("mode", ["piped", "terminal"])
def test_json_is_json_in_every_mode(
    mode: str, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    request.getfixturevalue(mode)
    assert main(["status", "--source", SOURCE, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["pending"], stats["in_flight"], stats["dead"]) == (3, 0, 1)
    assert main(["dead-letters", "list", "--source", SOURCE, "--json"]) == 0
    [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (row["entry_id"], row["event_name"], row["last_error"]) == (
        4,
        "Bad\x1b[2J",
        "HTTP 500: \x1b[2Jgone",
    )  # JSON keeps the original; its encoding escapes it


@pytest.mark.usefixtures("terminal")
def test_a_drain_on_a_terminal_shows_progress(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["drain", "--source", SOURCE, "--publisher", "null:", "--poll-interval", "0.01"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "draining" in err
    assert "3/3" in err
    assert "ETA" in err


@pytest.mark.usefixtures("piped")
def test_a_piped_drain_shows_no_bar_and_logs_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["drain", "--source", SOURCE, "--publisher", "null:", "--poll-interval", "0.01"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "draining" not in err
    logs = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    started = next(entry for entry in logs if entry["message"] == "relay started")
    assert started["level"] == "info"
    assert started["logger"] == "eventhex.relay"
    assert started["owner"]
    assert "ts" in started
    settled = [entry for entry in logs if entry["message"] == "publishing"]
    assert settled[0]["publisher"] == "null:"
    assert "published 3" in err


def test_text_logs_are_readable_lines_with_fields(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["drain", "--source", SOURCE, "--publisher", "null:", "--log-format", "text"]
    assert main([*args, "--owner", "relay-7"]) == 0
    err = capsys.readouterr().err
    [started] = [line for line in err.splitlines() if "relay started" in line]
    assert "owner=relay-7" in started
    assert not started.startswith("{")
