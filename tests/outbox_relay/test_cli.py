"""The command line: settings validation, source loading, and commands on an in-memory outbox."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest

from eventhex_core_ports.in_memory.relay_source import InMemoryOutboxSource
from eventhex_outbox_relay.cli import main
from eventhex_outbox_relay.settings import SettingsError, load_settings
from eventhex_outbox_relay.sources import SourceError, load_source

OUTBOX = InMemoryOutboxSource()
"""The source ``--source tests.outbox_relay.test_cli:OUTBOX`` names."""
CLOUDEVENTS_OUTBOX = InMemoryOutboxSource()


def make_outbox() -> InMemoryOutboxSource:
    """A factory source, as ``module:attribute`` may name."""
    return InMemoryOutboxSource()


MADE_WITH: list[str] = []


def make_named_outbox(name: str) -> InMemoryOutboxSource:
    """A factory source that takes an option."""
    MADE_WITH.append(name)
    return InMemoryOutboxSource()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("SOURCE", "SOURCE_OPTIONS", "PUBLISHER", "BATCH_SIZE"):
        monkeypatch.delenv(f"EVENTHEX_RELAY_{name}", raising=False)
    logger = logging.getLogger("eventhex")
    handlers, level, propagate = logger.handlers[:], logger.level, logger.propagate
    yield
    logger.handlers[:], logger.propagate = handlers, propagate  # main() set up its own
    logger.setLevel(level)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["run"], "invalid setting EVENTHEX_RELAY_SOURCE (--source): is required"),
        (["run", "--source", "x", "--batch-size", "0"], "EVENTHEX_RELAY_BATCH_SIZE (--batch-size)"),
        (["drain", "--source", "x", "--publisher", "mqtt://k"], "EVENTHEX_RELAY_PUBLISHER"),
        (["run", "--source", "x", "--lease-seconds", "-1"], "EVENTHEX_RELAY_LEASE_SECONDS"),
        (["run", "--source", "x", "--log-level", "loud"], "EVENTHEX_RELAY_LOG_LEVEL"),
        (["status", "--source", "x", "--source-option", "db"], "EVENTHEX_RELAY_SOURCE_OPTIONS"),
        (["drain", "--source", "x", "--drain-timeout", "0"], "EVENTHEX_RELAY_DRAIN_TIMEOUT"),
    ],
)
def test_invalid_settings_name_the_setting_and_the_fix(
    args: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert named in err
    assert "fix:" in err


def test_environment_supplies_settings_and_flags_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTHEX_RELAY_SOURCE", "from-env")
    monkeypatch.setenv("EVENTHEX_RELAY_PUBLISHER", "redis://localhost:6379/0?stream=s")
    monkeypatch.setenv("EVENTHEX_RELAY_BATCH_SIZE", "7")
    settings = load_settings({"batch_size": 9, "owner": None})
    assert (settings.source, settings.batch_size) == ("from-env", 9)
    assert settings.publisher_url.startswith("redis://")
    with pytest.raises(SettingsError, match="EVENTHEX_RELAY_BACKOFF_MAX"):
        load_settings({"backoff_base": 10, "backoff_max": 1})


def test_sources_load_by_path_or_factory_and_fail_clearly() -> None:
    import tests.outbox_relay.test_cli as here

    assert load_source("tests.outbox_relay.test_cli:OUTBOX") is here.OUTBOX
    assert isinstance(load_source("tests.outbox_relay.test_cli:make_outbox"), InMemoryOutboxSource)
    with pytest.raises(SourceError, match=r"no outbox source named 'nope'.*installed: django"):
        load_source("nope")
    with pytest.raises(SourceError, match="has no attribute 'missing'"):
        load_source("tests.outbox_relay.test_cli:missing")
    with pytest.raises(SourceError, match="not an OutboxSource"):
        load_source("json:__name__")


def test_source_options_reach_the_factory_from_flags_or_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = "tests.outbox_relay.test_cli:make_named_outbox"
    MADE_WITH.clear()
    assert main(["status", "--source", source, "--source-option", "name=from-flag"]) == 0
    monkeypatch.setenv("EVENTHEX_RELAY_SOURCE_OPTIONS", '{"name": "from-env"}')
    assert main(["status", "--source", source]) == 0
    assert MADE_WITH == ["from-flag", "from-env"]

    assert main(["status", "--source", source, "--source-option", "size=3"]) == 2
    err = capsys.readouterr().err
    assert "rejects its options" in err
    assert "(it takes: name)" in err
    with pytest.raises(SourceError, match="takes no options"):
        load_source("tests.outbox_relay.test_cli:OUTBOX", {"name": "x"})


def test_drain_status_and_dead_letters_on_a_named_source(
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = "tests.outbox_relay.test_cli:OUTBOX"
    for _ in range(3):
        OUTBOX.enqueue(data={"hello": "world"})
    poison = OUTBOX.enqueue()
    OUTBOX.claim("someone", 10, timedelta(minutes=1))
    OUTBOX.release("someone", list(range(1, 4)))
    OUTBOX.dead_letter("someone", poison.entry_id, "boom")

    assert main(["status", "--source", source, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["pending"], stats["in_flight"], stats["dead"]) == (3, 0, 1)

    assert main(["drain", "--source", source, "--poll-interval", "0.01"]) == 0
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert [line["data"] for line in lines] == [{"hello": "world"}] * 3
    assert "published 3" in captured.err

    assert main(["dead-letters", "list", "--source", source, "--json"]) == 0
    [dead] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (dead["entry_id"], dead["last_error"]) == (poison.entry_id, "boom")
    assert main(["dead-letters", "replay", "--source", source, "--all"]) == 0
    assert capsys.readouterr().out.strip() == "re-queued 1 dead letter(s)"
    assert main(["status", "--source", source]) == 0
    assert "dead        0" in capsys.readouterr().out


def test_drain_with_the_cloudevents_envelope_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVENTHEX_RELAY_ENVELOPE", "cloudevents")
    sent = CLOUDEVENTS_OUTBOX.enqueue(event_name="OrderPlaced", data={"total": 10})
    assert main(["drain", "--source", "tests.outbox_relay.test_cli:CLOUDEVENTS_OUTBOX"]) == 0
    [line] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (line["specversion"], line["id"], line["type"]) == (
        "1.0", str(sent.event_uuid), "OrderPlaced",
    )  # fmt: skip
    assert line["data"] == {"total": 10}
    assert main(["drain", "--source", "x", "--envelope", "xml"]) == 2
    assert "EVENTHEX_RELAY_ENVELOPE (--envelope)" in capsys.readouterr().err
