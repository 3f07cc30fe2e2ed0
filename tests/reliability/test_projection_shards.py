"""Three runner processes share a projection of eight shards on PostgreSQL; one is SIGKILLed in
the middle of a batch while appends go on. Every event must be applied exactly once, each
stream's events in order, and the dead runner's shards taken over by the others."""

import signal
from pathlib import Path

import pytest
from django.db import connections
from eventhex_devtools.postgres import PostgresServer

from eventhex_django_adapter.projections import projection_statuses
from eventhex_django_adapter.projections.models import ProjectionState
from tests.django_adapter.projections._processes import kill_mid_batch, start_runner
from tests.django_adapter.projections.conftest import backend_for, expected_uuids
from tests.django_adapter.projections.test_runner import applied
from tests.django_adapter.projections.test_shards import in_stream_order
from tests.projection_app.projections import ShardedEvents
from tests.waiting import wait_for

from ._report import ReliabilityReport
from .test_projection_failover import _Writer

SHARDED = "tests.projection_app.projections.ShardedEvents"


def _shards() -> dict[str, ProjectionState]:
    rows = ProjectionState.objects.using("postgres").filter(projection="test.sharded")
    return {row.name: row for row in rows}


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(databases=["postgres"], transaction=True)
def test_a_runner_killed_mid_batch_hands_its_shards_over_losing_nothing(
    postgresql_server: PostgresServer,
    settings: object,
    reliability: ReliabilityReport,
    tmp_path: Path,
) -> None:
    settings.EVENTHEX_PROJECTIONS = [SHARDED]  # type: ignore[attr-defined]
    settings.EVENTHEX_TEST_PROJECTION_DATABASE = "postgres"  # type: ignore[attr-defined]
    dbname = connections["postgres"].settings_dict["NAME"]
    backend = backend_for("postgres")
    projection = ShardedEvents()
    writer = _Writer(start_at=0)
    writer.start()
    wait_for(lambda: writer.appended >= 300, "the first 300 events")
    reliability.injected("sharded projection runner SIGKILL mid-batch")

    runners = [
        start_runner(
            postgresql_server,
            dbname,
            log=tmp_path / f"runner-{n}.log",
            EVENTHEX_TEST_HANDLE_DELAY="0.002",
            EVENTHEX_TEST_RUNNER_PROJECTIONS=SHARDED,
        )
        for n in range(3)
    ]
    try:
        # Eight shards over three runners settle as three, three and two.
        def spread() -> bool:
            rows = _shards()
            owners = {row.owner for row in rows.values()}
            return len(rows) == 8 and all(r.owner for r in rows.values()) and len(owners) == 3

        wait_for(spread, "the eight shards to be spread over the three runners", seconds=180)
        victim_owner = _shards()["test.sharded#0/8"].owner
        victim, orphans, takeover = kill_mid_batch(runners, _shards, "test.sharded#0/8")
        resumed_from = writer.appended
        wait_for(lambda: writer.appended >= resumed_from + 100, "more appends after takeover")
        writer.halt.set()
        writer.join()
        assert writer.error is None, writer.error
        wait_for(
            lambda: all(s.lag_events == 0 for s in projection_statuses(backend, [projection])),
            "every shard to catch up",
            seconds=120,
        )
        survivors = [r for r in runners if r is not victim]
        owners_after = {row.owner for row in _shards().values()}
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
    got = applied("postgres", "test.sharded")
    expected = expected_uuids(backend, projection)
    assert len(expected) == writer.appended
    assert len(got) == len(set(got)), "an event was applied twice"
    assert sorted(got) == sorted(expected), f"{len(got)} applied, {len(expected)} expected"
    assert in_stream_order("postgres", got)
    assert victim_owner not in owners_after
    assert len(owners_after) == 2  # both survivors work on shards
    assert sum(row.applied for row in _shards().values()) == writer.appended

    reliability.survived("sharded projection runner SIGKILL mid-batch")
    reliability.checked_events(len(expected), 0)
    reliability.measure(
        "sharded projection takeover after SIGKILL", f"{takeover:.2f} s ({len(orphans)} shards)"
    )
    print(f"sharded projection takeover after SIGKILL: {takeover:.2f} s ({sorted(orphans)})")
