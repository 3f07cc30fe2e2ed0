"""``manage.py eventhex_projections``: status, parked list, and run's SIGTERM."""

import io
import json
import signal
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from eventhex_devtools.postgres import PostgresServer

from eventhex_django_adapter._codec import format_position
from eventhex_django_adapter.projections import load_projections
from eventhex_django_adapter.projections.models import ParkedEvent, ProjectionState
from tests.django_adapter.projections._processes import in_batch, start_runner
from tests.django_adapter.projections.conftest import (
    append_events,
    backend_for,
    running,
)
from tests.django_adapter.projections.test_failures import parked
from tests.django_adapter.projections.test_runner import applied
from tests.projection_app.projections import AllEvents
from tests.reliability._report import report
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def command(*args: str) -> str:
    out = io.StringIO()
    call_command("eventhex_projections", *args, stdout=out)
    return out.getvalue()


def status(*args: str) -> tuple[str, int]:
    """``status``'s output and exit code."""
    out = io.StringIO()
    try:
        call_command("eventhex_projections", "status", *args, stdout=out)
    except CommandError as error:
        return out.getvalue(), error.returncode
    return out.getvalue(), 0


def test_status_reports_position_lag_owner_state_and_parked(alias: str) -> None:
    backend = backend_for(alias)
    append_events(backend, 30)

    shown, code = status("--json")
    before = json.loads(shown)
    assert code == 3  # nobody runs them
    assert [s["name"] for s in before] == [p.name for p in load_projections()]
    everything = before[0]
    assert (everything["lag_events"], everything["position"], everything["owner"]) == (30, "0", "")
    assert everything["state"] == "no runner"
    assert everything["lag_seconds"] >= 0

    with running(backend, load_projections(["test.all"])) as runner:
        wait_for(lambda: len(applied(alias, "test.all")) == 30, "30 events")
        (now,) = [s for s in json.loads(status("--json")[0]) if s["name"] == "test.all"]
        assert (now["lag_events"], now["state"], now["parked"]) == (0, "running", 0)
        assert now["owner"] == runner.owner
        assert now["owner_alive"] is True
        assert int(now["position"]) > 0
        table, _ = status()
        assert table.splitlines()[0].split() == [
            "projection", "state", "position", "lag", "lag", "age", "owner", "parked", "error",
        ]  # fmt: skip
        assert runner.owner in table
        line = next(line for line in table.splitlines() if line.startswith("test.all "))
        assert format_position(int(now["position"])) in line.split()


def test_status_shows_failing_and_stopped_projections_and_exits_2(
    alias: str, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    monkeypatch.setattr(AllEvents, "attempts", 2)
    monkeypatch.setattr(AllEvents, "retry_delay", 30.0)  # stays in its first wait
    AllEvents.fail_on = {"item-2"}
    backend = backend_for(alias)
    append_events(backend, 5)
    settings.EVENTHEX_PROJECTIONS = ["tests.projection_app.projections.AllEvents"]
    only_all = ["test.all"]
    rows = ProjectionState.objects.using(alias).filter(name="test.all")
    with running(backend, load_projections(only_all)):
        wait_for(lambda: any(rows.values_list("last_error", flat=True)), "a failed try")
        table, code = status()
        (shown,) = json.loads(status("--json")[0])
    assert code == 2
    assert shown["state"] == "failing"
    assert "cannot project item item-2" in shown["last_error"]
    line = table.splitlines()[1]
    assert line.split()[:2] == ["test.all", "failing"]
    assert line.endswith("RuntimeError: cannot project item item-2")

    monkeypatch.setattr(AllEvents, "retry_delay", 0.01)
    with running(backend, load_projections(only_all)):
        wait_for(lambda: len(parked(alias)) == 1, "the event to be parked")
        (shown,) = json.loads(status("--json")[0])
        assert (shown["state"], status()[1]) == ("stopped", 2)

        AllEvents.fail_on = set()
        command("parked", "retry", "--all")
        wait_for(lambda: len(applied(alias, "test.all")) == 5, "the rest")
        (shown,) = json.loads(status("--json")[0])
        assert (shown["state"], shown["last_error"], status()[1]) == ("running", "", 0)


def test_parked_list_shows_the_error_and_refuses_unknown_ids(
    alias: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(AllEvents, "retry_delay", 0.01)
    monkeypatch.setattr(AllEvents, "on_failure", "park")
    AllEvents.fail_on = {"item-2"}
    backend = backend_for(alias)
    append_events(backend, 5)
    with running(backend, load_projections(["test.all"])):
        wait_for(lambda: len(parked(alias)) == 1, "a parked event")

    (row,) = json.loads(command("parked", "list", "--json"))
    assert row["projection"] == "test.all"
    assert row["error"] == "RuntimeError: cannot project item item-2"
    assert "cannot project item item-2" in command("parked", "list", "--projection", "test.all")
    with pytest.raises(CommandError, match="no parked event waiting with id 999"):
        command("parked", "skip", "999")
    with pytest.raises(CommandError, match="give parked event ids, or --all"):
        command("parked", "retry")
    assert command("parked", "skip", str(row["id"])).startswith(f"{row['id']}: ok skipped")
    assert command("parked", "list") == "no parked events\n"


@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"], transaction=True)
def test_sigterm_finishes_the_batch_and_exits_0(
    postgresql_server: PostgresServer, settings: object, tmp_path: Path
) -> None:
    settings.EVENTHEX_TEST_PROJECTION_DATABASE = "postgres"  # type: ignore[attr-defined]
    backend = backend_for("postgres")
    append_events(backend, 400)
    dbname = connections["postgres"].settings_dict["NAME"]
    runner = start_runner(
        postgresql_server,
        dbname,
        "test.all",
        log=tmp_path / "runner.log",
        EVENTHEX_TEST_HANDLE_DELAY="0.02",  # a batch of 50 takes a second
    )
    try:
        wait_for(lambda: len(applied("postgres", "test.all")) > 0, "the first events")
        wait_for(lambda: in_batch(runner.pid), "the runner to be inside its next batch")
        before = len(applied("postgres", "test.all"))
        runner.send_signal(signal.SIGTERM)
        code = runner.wait(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
    log = (tmp_path / "runner.log").read_text()
    assert code == 0, log
    done = applied("postgres", "test.all")
    row = ProjectionState.objects.using("postgres").get(name="test.all")
    assert row.applied == len(done)
    assert len(done) % 50 == 0
    assert len(done) < 400
    assert len(done) >= before + 50  # the batch under way when the signal came was finished
    assert (row.owner, row.state) == ("", "running")
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(line["message"].startswith("projection runner") for line in lines)
    assert any("froze" in line["message"] for line in lines)
    assert {"ts", "level", "logger", "message", "owner"} <= set(lines[0])


HOSTILE = "\x1b]0;owned\x07\x1b[2J\x9b31m\u202e\r\nfake: ok"
"""An OSC title change, a screen clear, a C1 CSI, a bidi override and a forged line."""


@pytest.mark.django_db(databases=["default"])
def test_parked_list_and_status_print_stored_text_terminal_safe() -> None:
    """Names, streams, owners and handler errors come from outside: a terminal gets them as
    visible escapes, never as sequences it obeys."""
    state = ProjectionState.objects.create(name="test.all", owner=f"runner {HOSTILE}")
    ParkedEvent.objects.create(
        projection=state,
        event_uuid=uuid4(),
        event_name=f"Evt{HOSTILE}",
        stream_uuid=uuid4(),
        stream_name=f"stream{HOSTILE}",
        version=1,
        position=7,
        previous_position=6,
        error=f"Traceback ...\nIntegrityError: {HOSTILE}",
        attempts=3,
    )
    outputs = {"parked list": lambda: command("parked", "list"), "status": lambda: status()[0]}
    for what, output in outputs.items():
        report.tried(f"terminal injection: eventhex_projections {what}")
        out = output()
        assert not set(out) & {"\x1b", "\x07", "\x9b", "\u202e", "\r"}, what
        assert "\\x1b]0;owned\\x07" in out
        assert "\nfake: ok" not in out
        report.handled(f"terminal injection: eventhex_projections {what}")
