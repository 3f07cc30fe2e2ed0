"""Connections killed with ``pg_terminate_backend`` during appends and subscription reads.

Appends: the caller gets a database error and the append is committed completely or not at all
(events, stream version and outbox rows together). Subscriptions: an iterator reading outside a
transaction reconnects and resumes after its last delivered event, so nothing is lost or
repeated; inside ``transaction.atomic`` it raises; a new subscription from the last delivered
position carries on exactly.
"""

import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from event_sourcery import StreamId, TenantId
from event_sourcery.event import WrappedEvent

from eventhex_django_adapter import DjangoBackend, DjangoConfig
from eventhex_django_adapter.models import Event as EventRow
from eventhex_django_adapter.models import OutboxEntry, Stream

from ._report import ReliabilityReport
from ._support import Noted

ALIAS = "postgres"
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(databases=[ALIAS], transaction=True)]


@pytest.fixture
def killer(postgresql_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection that terminates other backends."""
    with psycopg.connect(postgresql_dsn, autocommit=True) as connection:
        yield connection


def _terminate(killer: psycopg.Connection[Any], pid: int) -> bool:
    row = killer.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()
    return bool(row and row[0])


def _terminate_all_others(killer: psycopg.Connection[Any]) -> int:
    rows = killer.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    ).fetchall()
    return sum(1 for (done,) in rows if done)


def _backend() -> DjangoBackend:
    return DjangoBackend().configure(DjangoConfig(database=ALIAS)).with_outbox()


def _stored(stream: StreamId) -> tuple[int, int, int | None]:
    """(events, outbox rows, stream version) of ``stream`` as committed."""
    row = Stream.objects.using(ALIAS).filter(uuid=stream, category="").first()
    events = EventRow.objects.using(ALIAS).filter(stream__uuid=stream).count()
    outbox = OutboxEntry.objects.using(ALIAS).filter(stream_uuid=stream).count()
    return events, outbox, row.version if row else None


def test_append_killed_while_waiting_for_the_stream_lock_writes_nothing(
    postgresql_dsn: str, killer: psycopg.Connection[Any], reliability: ReliabilityReport
) -> None:
    backend = _backend()
    stream = StreamId(name="locked-stream")
    backend.event_store.append(Noted(text="v1"), stream_id=stream)
    outcome: list[BaseException | None] = []

    def append() -> None:
        try:
            backend.event_store.append(
                Noted(text="v2"), Noted(text="v3"), stream_id=stream, expected_version=1
            )
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)
        finally:
            connections[ALIAS].close()

    with psycopg.connect(postgresql_dsn) as holder:
        holder.execute("SELECT 1 FROM eventhex_stream WHERE name = %s FOR UPDATE", [stream.name])
        appender = threading.Thread(target=append)
        appender.start()
        pid = None
        while pid is None and appender.is_alive():  # the appender blocks on the row lock
            row = killer.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query ILIKE '%%UPDATE%%eventhex_stream%%'"
            ).fetchone()
            pid = row[0] if row else None
        assert pid is not None, f"the append did not block: {outcome}"
        reliability.injected("append: backend killed before events were written")
        assert _terminate(killer, pid)
        appender.join()
        holder.rollback()
    [error] = outcome
    assert isinstance(error, OperationalError | InterfaceError), repr(error)
    assert _stored(stream) == (1, 1, 1)
    backend.event_store.append(Noted(text="v2"), stream_id=stream, expected_version=1)
    assert _stored(stream) == (2, 2, 2)
    reliability.survived("append: backend killed before events were written")


def test_append_killed_after_writing_its_events_commits_nothing(
    killer: psycopg.Connection[Any], reliability: ReliabilityReport
) -> None:
    backend = _backend()
    stream = StreamId(name="killed-before-commit")
    kills: list[bool] = []

    def kill_my_backend(
        wrapped_event: WrappedEvent[Any], stream_id: StreamId, tenant_id: TenantId, position: int
    ) -> None:
        if stream_id == stream and not kills:
            with connections[ALIAS].cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM eventhex_event WHERE stream_id = "
                    "(SELECT id FROM eventhex_stream WHERE name = %s)",
                    [stream.name],
                )
                assert cursor.fetchone()[0] == 3  # the events are written, not committed
                cursor.execute("SELECT pg_backend_pid()")
                pid = cursor.fetchone()[0]
            kills.append(_terminate(killer, pid))

    backend.in_transaction.register(kill_my_backend, to=Noted)
    reliability.injected("append: backend killed after its events were written")
    with pytest.raises(DatabaseError):
        backend.event_store.append(
            Noted(text="1"), Noted(text="2"), Noted(text="3"), stream_id=stream
        )
    assert kills == [True]
    connections[ALIAS].close()
    assert _stored(stream) == (0, 0, None)
    backend.event_store.append(Noted(text="again"), stream_id=stream)
    assert _stored(stream) == (1, 1, 1)
    reliability.survived("append: backend killed after its events were written")


def test_appends_under_random_kills_are_all_or_nothing(
    killer: psycopg.Connection[Any], reliability: ReliabilityReport
) -> None:
    backend = _backend()
    pid: list[int] = []
    acknowledged: list[StreamId] = []
    failed: list[StreamId] = []
    stop = threading.Event()

    def write() -> None:
        number = 0
        try:
            while not stop.is_set():
                try:
                    if not pid:
                        with connections[ALIAS].cursor() as cursor:
                            cursor.execute("SELECT pg_backend_pid()")
                            pid.append(cursor.fetchone()[0])
                    stream = StreamId(name=f"kill-loop-{number}")
                    number += 1
                    try:
                        backend.event_store.append(
                            Noted(text="a"), Noted(text="b"), Noted(text="c"), stream_id=stream
                        )
                        acknowledged.append(stream)
                    except DatabaseError:
                        failed.append(stream)
                        raise
                except DatabaseError:
                    pid.clear()
                    connections[ALIAS].close()
        finally:
            connections[ALIAS].close()

    writer = threading.Thread(target=write)
    writer.start()
    kills = 0
    rng = random.Random(8)
    try:
        while kills < 25 and writer.is_alive():
            time.sleep(rng.uniform(0.0, 0.02))
            if pid and _terminate(killer, pid[0]):
                kills += 1
                reliability.injected("append: backend killed at a random point", 1)
        while len(acknowledged) < kills + 5 and writer.is_alive():
            time.sleep(0.01)
    finally:
        stop.set()
        writer.join()
    assert kills == 25
    assert failed
    outcomes = {_stored(s) for s in acknowledged}
    assert outcomes == {(3, 3, None)} or outcomes == {(3, 3, 3)}
    partial = [s for s in failed if _stored(s) not in {(0, 0, None), (3, 3, 3)}]
    assert partial == []
    lost = sum(1 for s in acknowledged if _stored(s)[0] != 3)
    reliability.checked_events(3 * len(acknowledged), lost)
    assert lost == 0
    reliability.survived("append: backend killed at a random point", kills)


def _category_backend() -> tuple[DjangoBackend, Callable[[int], list[str]]]:
    config = DjangoConfig(database=ALIAS, gap_retry_interval=timedelta(seconds=0.1))
    backend = DjangoBackend().configure(config)
    stream = StreamId(name="subscribed", category="watched")

    def append(count: int) -> list[str]:
        texts = [f"e{time.monotonic_ns()}-{i}" for i in range(count)]
        backend.event_store.append(
            *[Noted(text=t) for t in texts], stream_id=stream, expected_version=_version(stream)
        )
        return texts

    return backend, append


def _version(stream: StreamId) -> int:
    row = Stream.objects.using(ALIAS).filter(uuid=stream, category=stream.category).first()
    return int(row.version) if row and row.version else 0


def _texts(records: list[Any]) -> list[str]:
    return [r.wrapped_event.event.text for r in records]


def test_a_subscription_whose_connections_die_resumes_without_loss_or_repeats(
    killer: psycopg.Connection[Any], reliability: ReliabilityReport
) -> None:
    backend, append = _category_backend()
    written = append(10)
    batches = backend.subscriber.start_from(0).to_category("watched").build_batch(4, 0.3)
    delivered = list(next(batches))
    assert len(delivered) == 4

    reliability.injected("subscription: connections killed between reads")
    assert _terminate_all_others(killer) >= 1  # the reader's connection
    delivered += next(batches)
    assert _texts(delivered) == written[:8]
    reliability.survived("subscription: connections killed between reads")

    # killed while the iterator waits on LISTEN for more than it has: kill, then append
    reliability.injected("subscription: connections killed while it waits")
    delivered += next(batches)  # the last 2; it has caught up and listens
    timer = threading.Timer(0.05, lambda: _terminate_all_others(killer))
    timer.start()
    waited = next(batches)  # the LISTEN and the reader's connections die under it
    timer.join()
    delivered += waited
    written += append(5)
    while len(delivered) < len(written):
        delivered += next(batches)
    assert _texts(delivered) == written
    positions = [r.position for r in delivered]
    assert positions == sorted(set(positions))
    reliability.checked_events(len(written), len(set(written) - set(_texts(delivered))))
    reliability.survived("subscription: connections killed while it waits")

    reliability.injected("subscription: replaced by a new one after its connection died")
    resumed = backend.subscriber.start_from(delivered[6].position).to_category("watched")
    again = next(resumed.build_batch(100, 0.3))
    assert _texts(again) == written[7:]
    reliability.survived("subscription: replaced by a new one after its connection died")


def test_a_subscription_inside_a_transaction_raises_when_its_connection_dies(
    killer: psycopg.Connection[Any], reliability: ReliabilityReport
) -> None:
    backend, append = _category_backend()
    written = append(3)
    reliability.injected("subscription: connection killed inside transaction.atomic")
    raised = []
    try:
        with transaction.atomic(using=ALIAS):
            batches = backend.subscriber.start_from(0).to_category("watched").build_batch(2, 0.3)
            first = next(batches)
            assert _texts(first) == written[:2]
            _terminate_all_others(killer)
            next(batches)
    except DatabaseError as error:  # from the read; leaving the block cannot roll back either
        raised.append(error)
    assert raised, "the read on a dead connection inside a transaction did not raise"
    connections[ALIAS].close()
    resumed = backend.subscriber.start_from(first[-1].position).to_category("watched")
    assert _texts(next(resumed.build_batch(10, 0.3))) == written[2:]
    reliability.survived("subscription: connection killed inside transaction.atomic")
