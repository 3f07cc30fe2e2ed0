"""A stored event nested deeper than Python's ``json`` decodes fails alone, with a clear error.

``FastSerde`` (every adapter's read path, the in-memory one included) raises
``UndecodableEvent`` naming the event, its stream and, for records, its position; never a
``RecursionError``.
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

from eventhex_core_ports.errors import StoredJsonUnreadable, UndecodableEvent
from eventhex_core_ports.in_memory.key_storage import InMemoryKeyStorage
from eventhex_core_ports.serde import FastSerde
from eventhex_core_ports.stored_json import loads_stored
from eventhex_core_ports.testing.events import ContractItemAdded

DEPTH = 5_000
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
