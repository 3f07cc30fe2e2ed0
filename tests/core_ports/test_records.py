"""``eventhex_core_ports._internal.records`` builds what event_sourcery's constructors build."""

from datetime import datetime
from typing import Any
from uuid import uuid4

import pytest
from event_sourcery import StreamId
from event_sourcery.event import Context, Event, RawEvent, Recorded, RecordedRaw, WrappedEvent

from eventhex_core_ports._internal.records import raw_event, recorded, recorded_raw, wrapped_event


class Opened(Event):
    number: int


def assert_same(actual: Any, expected: Any) -> None:
    assert type(actual) is type(expected)
    assert actual == expected
    assert vars(actual) == vars(expected)
    assert list(vars(actual)) == list(vars(expected))


@pytest.mark.parametrize("version", [None, 3])
def test_raw_event_and_recorded_raw(version: int | None) -> None:
    fields: dict[str, Any] = {
        "uuid": uuid4(),
        "stream_id": StreamId(name="orders-1", category="orders"),
        "created_at": datetime(2026, 12, 1, 4, 30),
        "name": "Opened",
        "data": {"number": 1, "nested": [{"a": None}]},
        "context": {"correlation_id": None, "causation_id": None},
        "version": version,
    }
    expected = RawEvent(**fields)
    actual = raw_event(**fields)
    assert_same(actual, expected)
    assert actual.data is fields["data"]  # no copy, like the constructor
    with pytest.raises(AttributeError):
        actual.name = "changed"  # type: ignore[misc]  # frozen, like the constructor's
    assert_same(
        recorded_raw(actual, 42, "tenant-a"),
        RecordedRaw(entry=expected, position=42, tenant_id="tenant-a"),
    )


def test_wrapped_event_and_recorded() -> None:
    event, context, uuid, when = Opened(number=2), Context(), uuid4(), datetime(2026, 1, 1)
    expected = WrappedEvent[Opened](
        event=event, version=5, uuid=uuid, created_at=when, context=context
    )
    actual = wrapped_event(WrappedEvent[Opened], event, 5, uuid, when, context)
    assert_same(actual, expected)
    assert actual.__orig_class__ is expected.__orig_class__  # type: ignore[attr-defined]
    actual.version = 6  # not frozen, like the constructor's
    assert actual.version == 6
    actual.version = 5
    stream_id = StreamId(name="orders-1")
    record = recorded(actual, stream_id, 7, "default")
    assert_same(
        record,
        Recorded(wrapped_event=expected, stream_id=stream_id, position=7, tenant_id="default"),
    )
    with pytest.raises(AttributeError):
        record.position = 8  # type: ignore[misc]
