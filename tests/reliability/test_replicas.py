"""Subscriptions read from a PostgreSQL streaming replica, and survive a failover (issue 29).

Each module starts its own primary and a synchronous hot standby (``pg_basebackup -R``). A
backend configured with ``subscription_database`` appends to the primary and subscribes on the
standby: the events come in the primary's commit order at the primary's positions, while
concurrent writers commit out of id order; a caught-up subscriber is woken through the primary's
notifications though it cannot ``LISTEN`` on the standby. After the primary crashes and the
standby is promoted, subscribers resume from their stored positions: every acknowledged append
is delivered once, nothing twice.
"""

import json
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connections, transaction
from django.test import override_settings
from event_sourcery import StreamId
from event_sourcery.event import Recorded
from eventhex_devtools.postgres import ThrowawayPostgres, ThrowawayStandby

from eventhex_core_ports.ports.relay import OutboxMessage, Publisher, PublishOutcome
from eventhex_django_adapter import DjangoBackend, DjangoConfig
from eventhex_django_adapter._subscription import read_ahead as ahead
from eventhex_django_adapter._subscription import reads
from eventhex_django_adapter.projections import load_projections, projection_statuses
from eventhex_django_adapter.projections._commands import status_table
from eventhex_django_adapter.projections.metrics import PrometheusProjectionMetrics
from eventhex_django_adapter.relay_source import DjangoOutboxSource
from eventhex_outbox_relay import Relay
from tests.django_adapter.projections.conftest import running
from tests.projection_app.models import AppliedEvent
from tests.waiting import wait_for

from ._moved_database import create_database, registered
from ._support import Noted

pytestmark = [pytest.mark.postgres]

PRIMARY = "replication_primary"
REPLICA = "replication_standby"


def _backend(**config: Any) -> DjangoBackend:
    settings = {"database": PRIMARY, "gap_retry_interval": timedelta(seconds=0.2)} | config
    return DjangoBackend().configure(DjangoConfig(**settings))


def _replica_backend(**config: Any) -> DjangoBackend:
    return _backend(subscription_database=REPLICA, **config)


def _read_all(
    backend: DjangoBackend, start: int = 0, expected: int | None = None, size: int = 100
) -> list[Recorded]:
    """Every event after ``start``, in pages of ``size``; with ``expected``, wait for that
    many (up to 60 s)."""
    batches: Iterator[list[Recorded]] = backend.subscriber.start_from(start).build_batch(
        size, timedelta(seconds=0.3)
    )
    found: list[Recorded] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        batch = next(batches)
        found.extend(batch)
        if expected is None and not batch:
            return found
        if expected is not None and len(found) >= expected:
            return found
    raise AssertionError(f"read {len(found)} events of {expected} in 60 s")


def _keys(records: list[Recorded]) -> list[tuple[Any, int]]:
    return [(record.wrapped_event.uuid, record.position) for record in records]


def _projected(after: int) -> list[tuple[Any, int]]:
    """What the projection runner applied after ``after``, in the order it applied it."""
    rows = AppliedEvent.objects.using(PRIMARY).filter(projection="test.all").order_by("id")
    return [(row.event_uuid, int(row.position)) for row in rows if int(row.position) > after]


def _writer(name: str, count: int, hold: float, acknowledged: list[str]) -> None:
    """Append ``count`` notes to stream ``name``; every other one holds its transaction open."""
    backend = _backend()
    try:
        for n in range(count):
            text = f"{name} #{n}"
            with transaction.atomic(using=PRIMARY):
                backend.event_store.append(
                    Noted(text=text), stream_id=StreamId(name=name), expected_version=n
                )
                if n % 2:
                    time.sleep(hold)
            acknowledged.append(text)
    finally:
        connections.close_all()


@pytest.fixture(scope="module")
def replicated(django_db_blocker: Any) -> Iterator[tuple[ThrowawayPostgres, ThrowawayStandby]]:
    """A migrated primary and its synchronous standby, started for this module."""
    primary = ThrowawayPostgres(prefix="eventhex-primary-", durable=True)
    standby = ThrowawayStandby(primary, synchronous=True)
    try:
        primary.start()
        create_database(primary, "eventhex")
        with django_db_blocker.unblock(), registered(PRIMARY, primary, "eventhex"):
            call_command("migrate", database=PRIMARY, verbosity=0)  # projections' tables too
        standby.start()
        standby.wait_for_replay()
        yield primary, standby
    finally:
        standby.close()
        primary.close()


@pytest.fixture
def aliases(
    replicated: tuple[ThrowawayPostgres, ThrowawayStandby], django_db_blocker: Any
) -> Iterator[tuple[ThrowawayPostgres, ThrowawayStandby]]:
    """The primary and the standby as Django databases while the test runs."""
    primary, standby = replicated
    with (
        django_db_blocker.unblock(),
        registered(PRIMARY, primary, "eventhex"),
        registered(REPLICA, standby, "eventhex"),
    ):
        yield primary, standby


@override_settings(
    EVENTHEX_PROJECTIONS=["tests.projection_app.projections.AllEvents"],
    EVENTHEX_TEST_PROJECTION_DATABASE=PRIMARY,
)
def test_a_replica_delivers_the_primarys_events_in_commit_order_at_its_positions(
    aliases: Any,
) -> None:
    newest = _read_all(_backend())
    start = newest[-1].position if newest else 0
    acknowledged: list[str] = []
    writers = [
        threading.Thread(target=_writer, args=(f"replica-w{n}", 12, 0.05 * n, acknowledged))
        for n in range(4)
    ]
    with running(_replica_backend(), load_projections(["test.all"])):
        for writer in writers:
            writer.start()
        on_replica = _read_all(_replica_backend(), start, expected=48)
        for writer in writers:
            writer.join()
        on_primary = _read_all(_backend(), start)
        wait_for(lambda: _projected(start) == _keys(on_primary), "the runner on the replica")

    assert len(acknowledged) == 48
    assert _keys(on_replica) == _keys(on_primary)
    assert sorted(r.wrapped_event.event.text for r in on_replica) == sorted(acknowledged)
    positions = [record.position for record in on_replica]
    assert positions == sorted(set(positions))


def test_a_catch_up_on_the_replica_reads_pages_ahead_and_matches_the_primary(
    aliases: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    newest = _read_all(_backend())
    start = newest[-1].position if newest else 0
    acknowledged: list[str] = []
    _writer("replica-ahead", 40, 0.0, acknowledged)
    on_primary = _read_all(_backend(), start)
    _read_all(_replica_backend(), start, expected=40)  # replayed: every page now comes full
    monkeypatch.setattr(ahead, "SMALLEST_PAGE", 1)
    read_ahead: list[int] = []
    real = reads.build_while_reading

    def counted(*args: Any, **kwargs: Any) -> Any:
        built, rows = real(*args, **kwargs)
        read_ahead.append(-1 if rows is None else len(rows))
        return built, rows

    monkeypatch.setattr(reads, "build_while_reading", counted)

    on_replica = _read_all(_replica_backend(), start, expected=40, size=5)

    assert _keys(on_replica) == _keys(on_primary)
    assert len(on_replica) == 40
    assert read_ahead == [5, 5, 5, 5, 5, 5, 0]  # pages 3 to 8 read ahead, then the tail


def test_a_caught_up_replica_subscriber_is_woken_by_the_primarys_commit(aliases: Any) -> None:
    # polling alone would not look again within the batch's time limit
    backend = _replica_backend(gap_retry_interval=timedelta(seconds=120))
    newest = _read_all(_backend())
    start = newest[-1].position if newest else 0
    batches = backend.subscriber.start_from(start).build_batch(1, timedelta(seconds=60))
    stream = StreamId(name="replica-wake")
    appender = threading.Timer(
        0.5,
        lambda: (
            _backend().event_store.append(Noted(text="wake"), stream_id=stream),
            connections.close_all(),
        ),
    )
    appender.start()
    try:
        (record,) = next(batches)
    finally:
        appender.join()

    assert record.wrapped_event.event.text == "wake"


def test_status_reports_how_far_the_replica_is_behind(
    aliases: tuple[ThrowawayPostgres, ThrowawayStandby],
) -> None:
    out = StringIO()
    call_command("eventhex_status", database=PRIMARY, replica=[REPLICA], json=True, stdout=out)
    facts = json.loads(out.getvalue())

    assert facts[f"replica_{REPLICA}_in_recovery"] is True
    assert facts[f"replica_{REPLICA}_lag_bytes"] >= 0
    with pytest.raises(CommandError, match=r"not in settings\.DATABASES"):
        call_command("eventhex_status", database=PRIMARY, replica=["nowhere"], stdout=out)


def test_subscriptions_read_the_replica_and_wait_for_its_replay(
    aliases: tuple[ThrowawayPostgres, ThrowawayStandby],
) -> None:
    newest = _read_all(_backend())
    start = newest[-1].position if newest else 0
    replica = connections[REPLICA]
    with replica.cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_pause()")
    try:
        _backend().event_store.append(Noted(text="paused"), stream_id=StreamId(name="paused"))
        batches = (
            _replica_backend().subscriber.start_from(start).build_batch(10, timedelta(seconds=1))
        )
        assert next(batches) == []  # on the primary, not replayed on the replica yet
    finally:
        with replica.cursor() as cursor:
            cursor.execute("SELECT pg_wal_replay_resume()")

    (record,) = _read_all(_replica_backend(), start, expected=1)
    assert record.wrapped_event.event.text == "paused"


def _repoint(alias: str, cluster: ThrowawayPostgres) -> None:
    """Point ``alias`` at ``cluster``, as a DNS name or a virtual IP moves after a failover."""
    connections[alias].close()
    connections.settings[alias]["PORT"] = str(cluster.server.port)
    connections[alias].settings_dict["PORT"] = str(cluster.server.port)


class _Recording(Publisher):
    """Delivers everything it is given, and remembers the event of each message."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def publish(self, messages: Sequence[OutboxMessage]) -> list[PublishOutcome]:
        self.texts.extend(str(message.data["text"]) for message in messages)
        return [PublishOutcome(message.entry_id, True) for message in messages]


def _relay_step(publisher: _Recording, batch_size: int, drain: bool = False) -> None:
    source = DjangoOutboxSource(PRIMARY)
    try:
        relay = Relay(source, publisher, owner="replica-test", batch_size=batch_size)
        if drain:
            relay.run(drain=True, give_up_after=30)
        else:
            relay.step()
    finally:
        source.close()


def _steady_writer(stop: threading.Event, acknowledged: list[str], failed: list[str]) -> None:
    """Append notes until ``stop``; record which appends were acknowledged and which failed."""
    backend = _backend().with_outbox()
    n = 0
    try:
        while not stop.is_set():
            text = f"steady #{n}"
            n += 1
            try:
                backend.event_store.append(Noted(text=text), stream_id=StreamId(name=text))
            except Exception:  # the primary went away: the outcome of this append is unknown
                failed.append(text)
                connections[PRIMARY].close()
                time.sleep(0.05)
            else:
                acknowledged.append(text)
    finally:
        connections.close_all()


def test_after_a_failover_subscribers_resume_from_their_positions(
    django_db_blocker: Any, reliability: Any
) -> None:
    primary = ThrowawayPostgres(prefix="eventhex-failover-primary-", durable=True)
    standby = ThrowawayStandby(primary, prefix="eventhex-failover-standby-", synchronous=True)
    try:
        primary.start()
        create_database(primary, "eventhex")
        with django_db_blocker.unblock(), registered(PRIMARY, primary, "eventhex"):
            call_command("migrate", "eventhex", database=PRIMARY, verbosity=0)
            standby.start()
            with registered(REPLICA, standby, "eventhex"):
                _fail_over_while_writing(primary, standby, reliability)
    finally:
        standby.close()
        primary.close()


def _fail_over_while_writing(
    primary: ThrowawayPostgres, standby: ThrowawayStandby, reliability: Any
) -> None:
    acknowledged: list[str] = []
    failed: list[str] = []
    stop = threading.Event()
    writer = threading.Thread(target=_steady_writer, args=(stop, acknowledged, failed))
    writer.start()
    try:
        replica_seen = _read_all(_replica_backend(), 0, expected=30)
        primary_seen = _read_all(_backend(), 0, expected=20)[:20]
        published = _Recording()
        _relay_step(published, batch_size=10)  # a relay publishes some of the outbox
        primary.crash()  # appends in flight now fail; the writer keeps trying
        standby.promote()
        _repoint(PRIMARY, standby)
        while len(acknowledged) < len(replica_seen) + 30:
            time.sleep(0.05)
    finally:
        stop.set()
        writer.join()

    _relay_step(published, batch_size=100, drain=True)  # and the rest after the failover
    everything = _read_all(_backend())  # the new primary, from the start
    texts = [record.wrapped_event.event.text for record in everything]
    replica_rest = _read_all(_replica_backend(), replica_seen[-1].position)
    primary_rest = _read_all(_backend(), primary_seen[-1].position)

    assert set(acknowledged) <= set(texts)  # nothing acknowledged is lost
    assert len(texts) == len(set(texts))  # nothing stored twice
    assert set(texts) <= set(acknowledged) | set(failed)
    assert _keys(replica_seen + replica_rest) == _keys(everything)
    assert _keys(primary_seen + primary_rest) == _keys(everything)
    assert set(published.texts) == set(texts)  # every stored event published, at least once
    reliability.injected("failover to a synchronous standby")
    reliability.survived("failover to a synchronous standby")
    reliability.checked_events(len(acknowledged), len(set(acknowledged) - set(texts)))


@override_settings(EVENTHEX_PROJECTIONS=["tests.projection_app.projections.AllEvents"])
def test_projection_status_and_metrics_show_the_replicas_lag(aliases: Any) -> None:
    projections = load_projections(["test.all"])
    (status,) = projection_statuses(_replica_backend(), projections)
    (on_primary,) = projection_statuses(_backend(), projections)
    metrics = PrometheusProjectionMetrics(lambda: [status])

    assert (status.replica, on_primary.replica) == (REPLICA, "")
    assert status.replica_lag_bytes >= 0
    assert status.replica_lag_seconds >= 0
    assert f"events read from replica '{REPLICA}'" in status_table([status])
    assert "replica" not in status_table([on_primary])
    assert b"eventhex_projection_replica_lag_seconds" in metrics.exposition()
