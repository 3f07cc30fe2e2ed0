"""Adapter-specific storage behaviour: statement counts, transactions, datetimes, positions."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connections, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from event_sourcery import NO_VERSIONING, StreamId
from event_sourcery.event import WrappedEvent
from event_sourcery.exceptions import ConcurrentStreamWriteError

from eventhex_core_ports.testing.events import ContractItemAdded, ContractSnapshot
from eventhex_django_adapter.models import Event, OutboxEntry, Stream

from .conftest import backend_on

pytestmark = pytest.mark.django_db(databases="__all__")


def _events(count: int, first_version: int = 1) -> list[WrappedEvent[ContractItemAdded]]:
    return [
        WrappedEvent(event=ContractItemAdded(item=str(n)), version=first_version + n)
        for n in range(count)
    ]


def _statements(alias: str, count: int, *, outbox: bool) -> tuple[int, int]:
    """Statements to create a stream with ``count`` events, then to append ``count`` more."""
    backend = backend_on(alias)
    if outbox:
        backend = backend.with_outbox()
    stream = StreamId(category="counted")
    with CaptureQueriesContext(connections[alias]) as create:
        backend.event_store.append(*_events(count), stream_id=stream, expected_version=0)
    with CaptureQueriesContext(connections[alias]) as extend:
        backend.event_store.append(
            *_events(count, count + 1), stream_id=stream, expected_version=count
        )
    return len(create.captured_queries), len(extend.captured_queries)


@pytest.mark.parametrize("outbox", [False, True], ids=["plain", "outbox"])
def test_appending_k_events_costs_a_constant_number_of_statements(alias: str, outbox: bool) -> None:
    one = _statements(alias, 1, outbox=outbox)
    many = _statements(alias, 25, outbox=outbox)

    assert one == many
    # Inside the test's transaction, PostgreSQL runs one statement that claims the stream and
    # writes the events and outbox rows, with no savepoint around it. SQLite opens a savepoint
    # around three: claim the stream, insert the events, insert the outbox rows.
    statements = 1 if connections[alias].vendor == "postgresql" else 2 + (3 if outbox else 2)
    assert many == (statements, statements)
    assert Event.objects.using(alias).filter(category="counted").count() == 2 * (1 + 25)


def test_append_joins_the_callers_transaction(alias: str) -> None:
    store = backend_on(alias).event_store
    stream = StreamId(category="joined")

    seen_inside: list[int] = []

    def append_then_fail() -> None:
        with transaction.atomic(using=alias):
            store.append(ContractItemAdded(item="a"), stream_id=stream)
            seen_inside.append(len(store.load_stream(stream)))
            raise RuntimeError("the caller rolls back")

    with pytest.raises(RuntimeError):
        append_then_fail()
    assert seen_inside == [1]

    assert list(store.load_stream(stream)) == []
    assert not Stream.objects.using(alias).filter(uuid=stream).exists()


def test_failing_listener_rolls_back_events_stream_and_outbox(alias: str) -> None:
    backend = backend_on(alias).with_outbox()
    stream = StreamId(category="rolled-back")

    def refuse(*args: object) -> None:
        raise ValueError("listener refused")

    backend.in_transaction.register(refuse, to=ContractItemAdded)
    with pytest.raises(ValueError, match="listener refused"):
        backend.event_store.append(ContractItemAdded(item="a"), stream_id=stream)

    assert not Stream.objects.using(alias).filter(uuid=stream).exists()
    assert not Event.objects.using(alias).filter(category="rolled-back").exists()
    assert not OutboxEntry.objects.using(alias).filter(stream_uuid=stream).exists()


def test_conflict_on_a_new_stream_is_not_an_integrity_error(alias: str) -> None:
    store = backend_on(alias).event_store
    stream = StreamId(name="taken", category="conflicts")
    store.append(ContractItemAdded(item="first"), stream_id=stream)

    with pytest.raises(ConcurrentStreamWriteError):
        store.append(ContractItemAdded(item="second"), stream_id=stream, expected_version=0)
    assert [e.event.item for e in store.load_stream(stream)] == ["first"]  # type: ignore[attr-defined]


def test_positions_are_transaction_ordered_on_postgres_and_ids_on_sqlite(alias: str) -> None:
    recorded: list[int] = []
    backend = backend_on(alias)
    backend.in_transaction.register(
        lambda event, stream_id, tenant_id, position: recorded.append(position),
        to=ContractItemAdded,
    )
    backend.event_store.append(*_events(2), stream_id=StreamId())

    rows = list(Event.objects.using(alias).order_by("-id").values_list("tx_id", "id")[:2])
    expected = [
        row_id if tx_id is None else (tx_id << 64) | row_id for tx_id, row_id in reversed(rows)
    ]
    assert recorded == expected
    if connections[alias].vendor == "postgresql":
        assert all(tx_id is not None for tx_id, _ in rows)
    else:
        assert recorded == [row_id for _, row_id in reversed(rows)]
    assert backend.event_store.position == recorded[-1]


INSTANTS = [
    datetime(2024, 2, 29, 23, 59, 58, 123456),
    datetime(1999, 12, 31, 23, 0, 0, 1),
]


@pytest.mark.parametrize("use_tz", [True, False], ids=["USE_TZ", "no-USE_TZ"])
@pytest.mark.parametrize("instant", INSTANTS, ids=["leap", "y2k"])
def test_naive_utc_datetimes_round_trip_exactly(
    alias: str, use_tz: bool, instant: datetime
) -> None:
    with override_settings(USE_TZ=use_tz):
        store = backend_on(alias).event_store
        stream = StreamId()
        store.append(
            WrappedEvent(event=ContractItemAdded(item="a"), version=1, created_at=instant),
            stream_id=stream,
        )
        store.save_snapshot(
            stream,
            WrappedEvent(event=ContractSnapshot(items=["a"]), version=1, created_at=instant),
        )
        store.append(
            WrappedEvent(event=ContractItemAdded(item="b"), version=2, created_at=instant),
            stream_id=stream,
            expected_version=1,
        )
        loaded = store.load_stream(stream)

    assert [event.created_at for event in loaded] == [instant, instant]
    assert all(event.created_at.tzinfo is None for event in loaded)


@pytest.mark.parametrize("use_tz", [True, False], ids=["USE_TZ", "no-USE_TZ"])
def test_aware_datetimes_come_back_as_the_same_instant(alias: str, use_tz: bool) -> None:
    instant = datetime(2025, 6, 1, 12, 30, 15, 999999, tzinfo=timezone(timedelta(hours=2)))
    with override_settings(USE_TZ=use_tz):
        store = backend_on(alias).event_store
        stream = StreamId()
        store.append(
            WrappedEvent(event=ContractItemAdded(item="a"), version=1, created_at=instant),
            stream_id=stream,
        )
        (loaded,) = store.load_stream(stream)

    assert loaded.created_at == instant.astimezone(UTC).replace(tzinfo=None)


def test_snapshot_of_a_missing_stream_creates_it_at_that_version(alias: str) -> None:
    store = backend_on(alias).event_store
    stream = StreamId(name="from-snapshot")
    store.save_snapshot(stream, WrappedEvent(event=ContractSnapshot(items=["x"]), version=4))

    store.append(ContractItemAdded(item="next"), stream_id=stream, expected_version=4)

    assert [event.version for event in store.load_stream(stream)] == [4, 5]
    with pytest.raises(ConcurrentStreamWriteError):
        store.append(ContractItemAdded(item="stale"), stream_id=stream, expected_version=4)


def test_stream_created_by_uuid_learns_its_name(alias: str) -> None:
    store = backend_on(alias).event_store
    named = StreamId(name="late-name", category="named")
    store.append(ContractItemAdded(item="a"), stream_id=StreamId(uuid=named, category="named"))
    store.append(ContractItemAdded(item="b"), stream_id=named, expected_version=1)

    assert Stream.objects.using(alias).get(uuid=named).name == "late-name"
    assert [e.version for e in store.load_stream(named)] == [1, 2]


@pytest.mark.django_db(databases=["default"])
def test_sqlite_without_returning_claims_streams_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite before 3.35 has no ``RETURNING``: the claim reads the changed row back instead."""
    monkeypatch.setattr(connections["default"].features, "can_return_columns_from_insert", False)
    store = backend_on("default").event_store
    versioned = StreamId(name="old-sqlite", category="claims")
    store.append(ContractItemAdded(item="a"), stream_id=StreamId(uuid=versioned, category="claims"))
    store.append(ContractItemAdded(item="b"), stream_id=versioned, expected_version=1)
    with pytest.raises(ConcurrentStreamWriteError):
        store.append(ContractItemAdded(item="stale"), stream_id=versioned, expected_version=1)
    with pytest.raises(ConcurrentStreamWriteError):
        store.append(ContractItemAdded(item="again"), stream_id=versioned, expected_version=0)
    unversioned = StreamId(category="claims")
    for item in "xy":
        store.append(
            ContractItemAdded(item=item), stream_id=unversioned, expected_version=NO_VERSIONING
        )
    snapshotted = StreamId(name="from-snapshot")
    store.save_snapshot(snapshotted, WrappedEvent(event=ContractSnapshot(items=[]), version=2))

    assert Stream.objects.get(uuid=versioned).name == "old-sqlite"
    assert [e.event.item for e in store.load_stream(versioned)] == ["a", "b"]  # type: ignore[attr-defined]
    assert [e.event.item for e in store.load_stream(unversioned)] == ["x", "y"]  # type: ignore[attr-defined]
    assert Stream.objects.get(uuid=snapshotted).version == 2
