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
from ledger.projection import BalancesProjection

from eventhex_django_adapter.models import Event, OutboxEntry
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
    """Run the scenario while the balances projection follows it in a background thread."""
    projection = BalancesProjection(backend())
    projected = [0]
    ended = threading.Event()

    def count(applied: int, position: int) -> None:
        projected[0] += applied

    def follow() -> None:
        try:
            projection.run(stop, on_batch=count)
        finally:
            connections.close_all()  # this thread's own connection
            ended.set()

    follower = threading.Thread(target=follow, name="ledger.balances", daemon=True)
    follower.start()

    def progress(result: ScenarioResult) -> None:
        print(
            f"      commands {result.commands:>4}  events {result.events:>4}  "
            f"rejected {result.rejected:>2}  projected {projected[0]:>4}",
            flush=True,
        )

    result = run_scenario(commands, seed, progress)
    caught_up = _wait_for(projection, ended)
    stop.set()
    follower.join(timeout=CATCH_UP_TIMEOUT)
    # With no transaction of ours left open, the readable position is the newest event's.
    store_position = int(backend().event_store.position or 0)
    print(f"      projection caught up: {projected[0]} events applied live", flush=True)
    return ScenarioOutcome(
        result=result,
        store_position=store_position,
        checkpoint=projection.position(),
        caught_up=caught_up,
        projected=projected[0],
    )


def _wait_for(projection: BalancesProjection, ended: threading.Event) -> bool:
    """Wait until the projection has applied every event readable now.

    On PostgreSQL the readable position can trail while the projection's own transaction is
    open (events committed after a running transaction began are not readable yet), so the
    target is read again on every turn.
    """
    deadline = time.monotonic() + CATCH_UP_TIMEOUT
    while projection.position() < int(backend().event_store.position or 0):
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
