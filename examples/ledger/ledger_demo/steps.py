"""The demo's steps that need Django; imported after ``django.setup()``."""

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.core.management import call_command
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor
from ledger.backend import backend

from eventhex_django_adapter.models import Event, OutboxEntry
from eventhex_django_adapter.projections import (
    Projection,
    ProjectionRunner,
    load_projections,
    projection_statuses,
)
from eventhex_django_adapter.projections.models import ProjectionState
from ledger_demo.relay import RelayRun, drain_outbox
from ledger_demo.scenario import ScenarioResult, run_scenario

__all__ = [
    "ScenarioOutcome",
    "drain",
    "empty",
    "holds_data",
    "migrate",
    "run_scenario_with_projection",
]

CATCH_UP_TIMEOUT = 60.0


@dataclass
class ScenarioOutcome:
    """The scenario's tally plus where the event store and the projection ended."""

    result: ScenarioResult
    store_position: int
    checkpoint: int
    caught_up: bool
    projected: int


def migrate() -> int:
    """Apply every pending migration; returns how many there were."""
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    call_command("migrate", interactive=False, verbosity=0)
    return len(pending)


def holds_data() -> bool:
    """Whether the database already has events (a previous run, or someone's data)."""
    return Event.objects.exists()


def empty() -> None:
    """Delete every row of every table of the project."""
    call_command("flush", interactive=False, verbosity=0)


def run_scenario_with_projection(
    commands: int, seed: int, stop: threading.Event
) -> ScenarioOutcome:
    """Run the scenario while a projection runner keeps the balances current in a thread.

    The runner is the one ``manage.py eventhex_projections run`` starts; here it shares the
    process so that the demo is one command.
    """
    projections = load_projections(["ledger.balances"])
    runner = ProjectionRunner(projections, backend(), stop, claim_interval=0.2)
    ended = threading.Event()

    def follow() -> None:
        try:
            runner.run()
        finally:
            connections.close_all()  # this thread's own connection
            ended.set()

    follower = threading.Thread(target=follow, name="projection runner", daemon=True)
    follower.start()

    def progress(result: ScenarioResult) -> None:
        status = projection_statuses(backend(), projections)[0]
        print(
            f"      commands {result.commands:>4}  events {result.events:>4}  "
            f"rejected {result.rejected:>2}  projected {status.applied:>4}  "
            f"lag {status.lag_events:>3}",
            flush=True,
        )

    result = run_scenario(commands, seed, progress)
    caught_up = _wait_for(projections, ended)
    stop.set()
    follower.join(timeout=CATCH_UP_TIMEOUT)
    # With no transaction of ours left open, the readable position is the newest event's.
    store_position = int(backend().event_store.position or 0)
    row = _row()
    print(f"      projection caught up: {row.applied} events applied live", flush=True)
    return ScenarioOutcome(
        result=result,
        store_position=store_position,
        checkpoint=int(row.position),
        caught_up=caught_up,
        projected=row.applied,
    )


def _row() -> ProjectionState:
    found = ProjectionState.objects.filter(name="ledger.balances").first()
    return found or ProjectionState(name="ledger.balances")


def _wait_for(projections: list[Projection], ended: threading.Event) -> bool:
    """Wait until the runner has applied every account event there is, showing its progress.

    A fast database finishes the scenario before the runner's first batch commits (on
    PostgreSQL in well under a second), so the projection's progress goes on here.
    """
    deadline = time.monotonic() + CATCH_UP_TIMEOUT
    shown = -1
    while (status := projection_statuses(backend(), projections)[0]).lag_events:
        if status.applied != shown:
            print(
                f"      projection {status.name}: applied {status.applied:>4}  "
                f"lag {status.lag_events:>3}",
                flush=True,
            )
            shown = status.applied
        if ended.is_set() or time.monotonic() > deadline:
            return False
        ended.wait(0.05)
    return True


def drain(database_url: str, keep_in: Path | None) -> RelayRun:
    """Drain the outbox through a separate relay process; optionally save what it printed."""
    run = drain_outbox(database_url)
    if keep_in is not None:
        lines = "".join(json.dumps(message) + "\n" for message in run.messages)
        (keep_in / "relayed.jsonl").write_text(lines)
    return run


def outbox_left() -> int:
    """Entries still in the outbox, dead ones included (none after a successful drain)."""
    return OutboxEntry.objects.count()
