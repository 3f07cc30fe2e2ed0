"""A stored event nested deeper than Python's ``json`` decodes fails alone, with a clear error.

``FastSerde`` (every adapter's read path, the in-memory one included) raises
``UndecodableEvent`` naming the event, its stream and, for records, its position; never a
``RecursionError``. On the in-memory adapter a load fails for that stream only, a subscription
raises at it, and ``Outbox.run`` dead-letters its entry (the Django adapter:
``tests/django_adapter/test_undecodable_rows.py``).
"""

import pickle
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from event_sourcery import StreamId
from event_sourcery.encryption import Encryption
from event_sourcery.event import EventRegistry, RawEvent, RecordedRaw
from event_sourcery.interfaces import EncryptionStrategy

from eventhex_core_ports import InMemoryBackend, InMemoryConfig
from eventhex_core_ports._internal.records import raw_event, recorded_raw
from eventhex_core_ports._internal.serde import FastSerde
from eventhex_core_ports._internal.stored_json import loads_stored
from eventhex_core_ports.errors import StoredJsonUnreadable, UndecodableEvent
from eventhex_core_ports.in_memory.key_storage import InMemoryKeyStorage
from eventhex_core_ports.testing.events import ContractItemAdded

DEPTH = 12_000
"""Deeper than ``json`` decodes on every supported Python (3.13 decodes about 10,000 levels)
and within what PostgreSQL's ``jsonb`` stores (its stack allows about 15,000)."""
NAME = EventRegistry().name_for_type(ContractItemAdded)


def deep_text(depth: int = DEPTH) -> str:
    """A payload of ``ContractItemAdded`` whose extra field nests ``depth`` arrays."""
    return '{"item": "x", "quantity": 1, "extra": ' + "[" * depth + "]" * depth + "}"


def deep_dict(depth: int = DEPTH) -> dict[str, Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return {"item": "x", "quantity": 1, "extra": value}


class _NoEncryption(EncryptionStrategy):
    def encrypt(self, value: Any, key: bytes) -> str:
        raise AssertionError("nothing is encrypted here")

    def decrypt(self, value: str, key: bytes) -> Any:
        raise AssertionError("nothing is encrypted here")


def serde() -> FastSerde:
    registry = EventRegistry()  # event_sourcery's registry knows every Event subclass
    encryption = Encryption(
        registry=registry, strategy=_NoEncryption(), key_storage=InMemoryKeyStorage()
    )
    return FastSerde(registry=registry, encryption=encryption)


def raw(data: Any, context: Any = None) -> RawEvent:
    return RawEvent(
        uuid=uuid4(),
        stream_id=StreamId(name="order-1", category="orders"),
        created_at=datetime.now(UTC).replace(tzinfo=None),
        name=NAME,
        data=data,
        context=context or {"causation_id": None, "correlation_id": None},
        version=1,
    )


def test_loads_stored_raises_a_value_error_instead_of_recursing() -> None:
    with pytest.raises(StoredJsonUnreadable, match="nests too deeply"):
        loads_stored("[" * DEPTH + "]" * DEPTH)
    assert loads_stored('{"a": [1]}') == {"a": [1]}


@pytest.mark.parametrize("data", [deep_text(), deep_dict()], ids=["json text", "decoded"])
def test_a_deep_payload_raises_undecodable_event_naming_the_event(data: Any) -> None:
    event = raw(data)

    with pytest.raises(UndecodableEvent) as raised:
        serde().deserialize(event)

    error = raised.value
    assert (error.event_uuid, error.stream_id, error.name) == (
        event.uuid,
        event.stream_id,
        NAME,
    )
    assert str(event.uuid) in str(error)
    assert "orders/order-1" in str(error)
    assert "nests too deeply" in str(error)
    assert not isinstance(error.__context__, RecursionError) or error.__suppress_context__


def test_a_deep_context_raises_undecodable_event() -> None:
    with pytest.raises(UndecodableEvent, match="nests too deeply"):
        serde().deserialize(raw({"item": "x"}, context={"components": deep_dict()}))


def test_a_record_names_its_position() -> None:
    record = RecordedRaw(entry=raw(deep_text()), position=42, tenant_id="t1")

    with pytest.raises(UndecodableEvent, match="at position 42") as raised:
        serde().deserialize_record(record)

    assert raised.value.position == 42


def test_the_next_event_still_decodes_and_the_error_survives_pickling() -> None:
    with pytest.raises(UndecodableEvent) as raised:
        serde().deserialize(raw(deep_text()))
    healthy = serde().deserialize(raw('{"item": "y", "quantity": 2}'))

    assert healthy.event == ContractItemAdded(item="y", quantity=2)
    copied = pickle.loads(pickle.dumps(raised.value))
    assert (str(copied), copied.stream_id, copied.event_uuid) == (
        str(raised.value),
        raised.value.stream_id,
        raised.value.event_uuid,
    )


def in_memory_with_one_deep_event() -> tuple[InMemoryBackend, StreamId, StreamId, list[Any]]:
    """An in-memory backend whose second event (of stream ``bad``) was replaced, around every
    check, by one nested ``DEPTH`` deep: in the log, the stream and the outbox."""
    backend = InMemoryBackend().configure(InMemoryConfig()).with_outbox()
    bad, good = StreamId(name="bad", category="orders"), StreamId(name="good")
    backend.event_store.append(*(ContractItemAdded(item=i) for i in "abc"), stream_id=bad)
    backend.event_store.append(ContractItemAdded(item="x"), stream_id=good)
    store = backend.container.store()
    victim = store.log[1]
    entry = victim.entry
    damaged = recorded_raw(
        raw_event(
            entry.uuid,
            entry.stream_id,
            entry.created_at,
            entry.name,
            deep_dict(),
            entry.context,
            entry.version,
        ),
        victim.position,
        victim.tenant_id,
    )
    store.log[1] = damaged
    for state in store.streams.values():
        state.events[:] = [damaged if r.entry.uuid == entry.uuid else r for r in state.events]
    for row in store.outbox.rows.values():
        if row.record.entry.uuid == entry.uuid:
            row.record = damaged
    return backend, bad, good, [record.entry.uuid for record in store.log]


def test_in_memory_loads_fail_for_that_stream_only() -> None:
    backend, bad, good, uuids = in_memory_with_one_deep_event()

    with pytest.raises(UndecodableEvent, match="nests too deeply") as raised:
        backend.event_store.load_stream(bad)

    assert (raised.value.event_uuid, raised.value.stream_id) == (uuids[1], bad)
    assert [e.event for e in backend.event_store.load_stream(good)] == [ContractItemAdded(item="x")]


def test_in_memory_subscriptions_raise_naming_the_position() -> None:
    backend, _, _, uuids = in_memory_with_one_deep_event()
    position = backend.container.store().log[1].position
    batches = backend.subscriber.start_from(0).build_batch(10, timelimit=0.1)

    with pytest.raises(UndecodableEvent, match=f"at position {position}") as raised:
        next(batches)

    assert raised.value.event_uuid == uuids[1]


def test_in_memory_outbox_run_dead_letters_the_entry_and_publishes_the_rest() -> None:
    backend, _, _, uuids = in_memory_with_one_deep_event()
    published: list[Any] = []

    backend.outbox.run(published.append)

    assert [r.wrapped_event.uuid for r in published] == [u for u in uuids if u != uuids[1]]
    [row] = backend.container.store().outbox.rows.values()
    assert (row.dead, row.attempts) == (True, 1)
    assert "nests too deeply" in (row.last_error or "")
