"""One stored row nested too deeply to decode fails alone (issue 27), on both databases.

The rows are damaged with raw SQL, around the adapter's checks: loads raise
``UndecodableEvent`` for that stream only, a subscription delivers the events before the row and
then raises naming its position, ``Outbox.run`` and the relay's source dead-letter the entry and
hand out every other one. Never a ``RecursionError``.
"""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from event_sourcery import StreamId
from event_sourcery.event import Recorded

from eventhex_core_ports.errors import UndecodableEvent
from eventhex_core_ports.testing.events import ContractItemAdded
from eventhex_django_adapter._codec import format_position
from eventhex_django_adapter._subscription.reads import EventSelection, read_after
from eventhex_django_adapter.models import Event, OutboxEntry
from eventhex_django_adapter.relay_source import DjangoOutboxSource
from tests.reliability._report import report

from .conftest import backend_on

DEEP = "stored row nested 12,000 deep"

pytestmark = pytest.mark.django_db(databases="__all__")


def deep_json(alias: str) -> str:
    """A payload nested deeper than ``json`` decodes on every supported Python (3.13 decodes
    about 10,000 levels); PostgreSQL's ``jsonb`` stores it, SQLite only past its ``JSON_VALID``
    check (see :func:`damage`)."""
    depth = 12_000
    return '{"item": "deep", "extra": ' + "[" * depth + "]" * depth + "}"


def overwrite_json(
    alias: str, table: str, column: str, row_id: Any, text: str, key: str = "id"
) -> None:
    """Overwrite one JSON column of the row whose ``key`` is ``row_id`` with ``text``, in raw
    SQL, around the adapter's checks (and SQLite's ``JSON_VALID``)."""
    cast = "::jsonb" if alias == "postgres" else ""
    sqlite = alias == "default"
    with connections[alias].cursor() as cursor:
        if sqlite:  # JSON_VALID refuses more than 2,000 levels: an import around it would not
            cursor.execute("PRAGMA ignore_check_constraints = ON")
        cursor.execute(f"UPDATE {table} SET {column} = %s{cast} WHERE {key} = %s", [text, row_id])
        if sqlite:
            cursor.execute("PRAGMA ignore_check_constraints = OFF")


def damage(alias: str, table: str, column: str, row_id: Any, key: str = "id") -> None:
    """Overwrite one JSON column of one row with :func:`deep_json`."""
    overwrite_json(alias, table, column, row_id, deep_json(alias), key)


def damage_event(alias: str, event_uuid: Any, column: str = "data") -> None:
    row_id = Event.objects.using(alias).get(uuid=event_uuid).pk
    damage(alias, "eventhex_event", column, row_id)


def append(alias: str, stream: StreamId, *items: str, outbox: bool = False) -> list[Any]:
    backend = backend_on(alias)
    backend = backend.with_outbox() if outbox else backend
    events = [ContractItemAdded(item=item) for item in items]
    backend.event_store.append(*events, stream_id=stream)
    return [wrapped.uuid for wrapped in backend.event_store.load_stream(stream)]


@pytest.mark.parametrize("column", ["data", "context"])
def test_a_load_raises_for_that_stream_only(alias: str, column: str) -> None:
    report.tried(f"{DEEP}: load ({alias})")
    bad, good = StreamId(name="bad", category="orders"), StreamId(name="good")
    uuids = append(alias, bad, "a", "b", "c")
    append(alias, good, "x")
    damage_event(alias, uuids[1], column)
    backend = backend_on(alias)

    with pytest.raises(UndecodableEvent, match="nests too deeply") as raised:
        backend.event_store.load_stream(bad)
    with pytest.raises(UndecodableEvent):  # the RawEvents event_sourcery reads
        backend.container.storage().fetch_events(bad)

    assert (raised.value.event_uuid, raised.value.stream_id) == (uuids[1], bad)
    assert "orders/bad" in str(raised.value)
    assert [e.event for e in backend.event_store.load_stream(good)] == [ContractItemAdded(item="x")]
    assert len(backend.event_store.load_stream(bad, stop=2)) == 1  # the rows before it load
    report.handled(f"{DEEP}: load ({alias})")


@pytest.mark.parametrize("decoded", [True, False], ids=["Recorded", "RecordedRaw"])
def test_a_read_stops_before_the_row_then_raises_naming_its_position(
    alias: str, decoded: bool
) -> None:
    stream = StreamId(category="orders")
    uuids = append(alias, stream, "a", "b", "c")
    damage_event(alias, uuids[1])
    backend = backend_on(alias)
    decoder = backend.container.core.serde() if decoded else None
    selection = EventSelection()

    first = read_after(alias, selection, 0, 10, decoder=decoder)
    assert [r.wrapped_event.uuid if decoded else r.entry.uuid for r in first] == uuids[:1]
    with pytest.raises(UndecodableEvent) as raised:
        read_after(alias, selection, first[-1].position, 10, decoder=decoder)

    error = raised.value
    assert (error.event_uuid, error.stream_id) == (uuids[1], stream)
    assert error.position is not None
    assert error.position > first[-1].position
    assert f"at position {format_position(error.position)}" in str(error)
    after = read_after(alias, selection, error.position, 10, decoder=decoder)
    assert len(after) == 1  # an operator who skips the row reads on


def test_a_subscription_delivers_up_to_the_row_and_raises_there(alias: str) -> None:
    report.tried(f"{DEEP}: subscription ({alias})")
    stream = StreamId(category="orders")
    uuids = append(alias, stream, "a", "b", "c")
    damage_event(alias, uuids[2])
    batches = backend_on(alias).subscriber.start_from(0).build_batch(10, timedelta(seconds=0.2))

    assert [r.wrapped_event.uuid for r in next(batches)] == uuids[:2]
    with pytest.raises(UndecodableEvent, match=str(uuids[2])) as raised:
        next(batches)
    assert not isinstance(raised.value.__context__, RecursionError)
    report.handled(f"{DEEP}: subscription ({alias})")


def _outbox_with_one_deep_entry(alias: str, column: str = "data") -> tuple[list[Any], int]:
    uuids = [u for n in range(6) for u in append(alias, StreamId(), f"e{n}", outbox=True)]
    deep = OutboxEntry.objects.using(alias).get(event_uuid=uuids[2])
    damage(alias, "eventhex_outboxentry", column, deep.pk)
    return [u for u in uuids if u != uuids[2]], deep.pk


@pytest.mark.parametrize("column", ["data", "context"])
def test_outbox_run_dead_letters_the_entry_and_publishes_the_rest(alias: str, column: str) -> None:
    report.tried(f"{DEEP}: Outbox.run ({alias})")
    healthy, deep_id = _outbox_with_one_deep_entry(alias, column)
    published: list[Recorded] = []

    backend_on(alias).with_outbox().outbox.run(published.append)

    assert sorted(str(r.wrapped_event.uuid) for r in published) == sorted(map(str, healthy))
    rows = OutboxEntry.objects.using(alias).filter(pk=deep_id)  # the JSON columns left out
    [(dead, last_error)] = rows.values_list("dead", "last_error")
    assert dead is True
    assert "nests too deeply" in last_error
    assert OutboxEntry.objects.using(alias).count() == 1
    report.handled(f"{DEEP}: Outbox.run ({alias})")


def test_the_relay_source_dead_letters_the_entry_and_claims_the_rest(alias: str) -> None:
    report.tried(f"{DEEP}: relay claim ({alias})")
    healthy, deep_id = _outbox_with_one_deep_entry(alias)
    source = DjangoOutboxSource(alias)
    try:
        claimed = source.claim("relay-1", 100, timedelta(seconds=30))
    finally:
        source.close()

    assert sorted(str(m.event_uuid) for m in claimed) == sorted(map(str, healthy))
    [dead] = source.dead_letters()
    assert dead.entry_id == deep_id
    assert "nests too deeply" in (dead.last_error or "")
    assert "nests too deeply" in str(dead.data["corrupt"])  # listed, not decoded
    report.handled(f"{DEEP}: relay claim ({alias})")
