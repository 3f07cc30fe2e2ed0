"""Three projection runners on PostgreSQL; one is SIGKILLed in the middle of a batch while
appends go on. Every projection must still apply every selected event exactly once, in commit
order, and the dead runner's projections must be taken over (the time it took is reported)."""

import json
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connections
from eventhex_devtools.postgres import PostgresServer

from eventhex_django_adapter.projections import load_projections, projection_statuses
from eventhex_django_adapter.projections.models import ProjectionState
from tests.django_adapter.projections._processes import kill_mid_batch, start_runner
from tests.django_adapter.projections.conftest import (
    append_events,
    backend_for,
    expected_uuids,
)
from tests.django_adapter.projections.test_runner import applied
from tests.projection_app import REGISTERED
from tests.projection_app.models import ItemCount
from tests.waiting import wait_for

from ._report import ReliabilityReport

ARTIFACTS = Path(__file__).resolve().parents[2] / "tmp" / "artifacts"


def _owners() -> dict[str, ProjectionState]:
    return {row.name: row for row in ProjectionState.objects.using("postgres").all()}


class _Writer(threading.Thread):
    """Appends five events per transaction until stopped."""

    def __init__(self, start_at: int) -> None:
        super().__init__(name="writer", daemon=True)
        self.appended = start_at
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        backend = backend_for("postgres")
        try:
            while not self.halt.is_set():
                append_events(backend, 5, start=self.appended, per_stream=5)
                self.appended += 5
                time.sleep(0.02)
        except BaseException as error:  # reported by the test
            self.error = error
        finally:
            connections.close_all()


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(databases=["postgres"], transaction=True)
def test_a_runner_killed_mid_batch_loses_and_repeats_nothing(
    postgresql_server: PostgresServer,
    settings: object,
    reliability: ReliabilityReport,
    tmp_path: Path,
) -> None:
    settings.EVENTHEX_PROJECTIONS = REGISTERED  # type: ignore[attr-defined]
    settings.EVENTHEX_TEST_PROJECTION_DATABASE = "postgres"  # type: ignore[attr-defined]
    dbname = connections["postgres"].settings_dict["NAME"]
    backend = backend_for("postgres")
    projections = load_projections()
    append_events(backend, 300)
    reliability.injected("projection runner SIGKILL mid-batch")

    runners = [
        start_runner(
            postgresql_server,
            dbname,
            log=tmp_path / f"runner-{n}.log",
            EVENTHEX_TEST_HANDLE_DELAY="0.002",
        )
        for n in range(3)
    ]
    writer = _Writer(start_at=300)
    try:
        # Three runners share four projections (two and two once they settle; on a loaded
        # machine a third may still hold one): every projection has one live owner.
        wait_for(
            lambda: len(rows := _owners()) == 4 and all(r.owner for r in rows.values()),
            "every projection to be owned by a runner",
            seconds=180,
        )
        writer.start()
        victim_owner = _owners()["test.all"].owner
        victim, orphans, takeover = kill_mid_batch(runners, _owners, "test.all")
        resumed_from = writer.appended
        wait_for(lambda: writer.appended >= resumed_from + 100, "more appends after takeover")
        writer.halt.set()
        writer.join()
        assert writer.error is None, writer.error
        wait_for(
            lambda: all(s.lag_events == 0 for s in projection_statuses(backend, projections)),
            "every projection to catch up",
            seconds=120,
        )

        survivors = [r for r in runners if r is not victim]
        for runner in survivors:
            runner.send_signal(signal.SIGTERM)
        codes = [runner.wait(timeout=60) for runner in survivors]
    finally:
        writer.halt.set()
        for runner in runners:
            if runner.poll() is None:
                runner.kill()
                runner.wait()

    assert codes == [0, 0], [p.read_text()[-3000:] for p in tmp_path.glob("runner-*.log")]
    checked = 0
    for projection in projections[:3]:
        expected = expected_uuids(backend, projection)
        got = applied("postgres", projection.name)
        assert got == expected, f"{projection.name}: {len(got)} applied, {len(expected)} expected"
        checked += len(expected)
    counts = dict(ItemCount.objects.using("postgres").values_list("item", "quantity"))
    assert counts == _replayed_counts(writer.appended)
    taken_by = {_owners()[name].owner for name in orphans}
    assert victim_owner not in taken_by

    reliability.survived("projection runner SIGKILL mid-batch")
    reliability.checked_events(checked, 0)
    reliability.measure("projection takeover after SIGKILL", f"{takeover:.2f} s")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "projection_failover.json").write_text(
        json.dumps(
            {
                "takeover_seconds": round(takeover, 3),
                "events": writer.appended,
                "orphaned_projections": sorted(orphans),
            },
            indent=2,
        )
    )
    print(f"projection takeover after SIGKILL: {takeover:.2f} s ({sorted(orphans)})")


def _replayed_counts(count: int) -> dict[str, int]:
    """What ``ItemCounts`` must hold after events 0..count-1, whatever their commit order.

    Streams of five events commit whole, in number order within the writer, and the first 300
    are appended before any runner starts, so additions and removals apply in number order.
    """
    total: Counter[str] = Counter()
    for n in range(count):
        item = f"item-{n % 7}"
        if n % 5 == 4:
            if item in total:
                total[item] -= 1
        else:
            total[item] += 1 + n % 3
    return dict(total)


@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"], transaction=True)
def test_a_runner_whose_lock_connection_is_killed_gives_up_and_claims_again(
    settings: object, reliability: ReliabilityReport
) -> None:
    """The server ends the runner's advisory-lock session (as on a network cut): the runner
    notices, stops its workers after their batch, reconnects and takes its projections again,
    with nothing applied twice."""
    from eventhex_django_adapter.projections._ownership import RUNNER_LOCKS
    from tests.django_adapter.projections.conftest import running

    settings.EVENTHEX_PROJECTIONS = REGISTERED  # type: ignore[attr-defined]
    settings.EVENTHEX_TEST_PROJECTION_DATABASE = "postgres"  # type: ignore[attr-defined]
    backend = backend_for("postgres")
    projections = load_projections(["test.all", "test.cart"])
    append_events(backend, 200)
    reliability.injected("projection runner's lock session terminated")

    with running(backend, projections):
        wait_for(lambda: len(applied("postgres", "test.all")) == 200, "the first 200 events")
        before = {name: row.generation for name, row in _owners().items()}
        with connections["postgres"].cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                "AND classid = %s::bigint::oid AND objsubid = 2",
                [RUNNER_LOCKS],
            )
            assert cursor.fetchone() == (True,)
        append_events(backend, 100, start=200)
        wait_for(
            lambda: all(
                row.generation > before[name] and row.owner
                for name, row in _owners().items()
                if name in before
            ),
            "the projections to be claimed again",
        )
        wait_for(
            lambda: all(s.lag_events == 0 for s in projection_statuses(backend, projections)),
            "catch-up after the new claims",
        )

    for projection in projections:
        assert applied("postgres", projection.name) == expected_uuids(backend, projection)
    reliability.survived("projection runner's lock session terminated")
