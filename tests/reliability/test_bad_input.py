"""Bad input gets a clear error naming the problem and the fix, and nothing is half-written.

Every test runs on the in-memory reference, SQLite and PostgreSQL and expects the same error
type, so the three adapters enforce the rules of ``eventhex_core_ports._internal.validation``
identically.
"""

import math
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from event_sourcery import NO_VERSIONING, Event, StreamId
from event_sourcery.event import EventRegistry, WrappedEvent
from event_sourcery.interfaces import StorageStrategy
from pydantic_core import PydanticSerializationError

from eventhex_core_ports import ContainerBackend
from eventhex_core_ports._internal.registry import (
    ExplainingEventRegistry,
)
from eventhex_core_ports._internal.validation import (
    MAX_JSON_DEPTH,
)
from eventhex_core_ports.errors import (
    AppendTooLarge,
    EventTooLarge,
    InvalidEventData,
    InvalidEventName,
    InvalidInput,
    InvalidStreamCategory,
    InvalidStreamName,
    InvalidTenantId,
    UnknownEventName,
)

from ._report import ReliabilityReport
from ._support import Measured, Noted, Payload, footprint, raw_event
from .conftest import on_every_database

pytestmark = on_every_database

Backends = Callable[..., ContainerBackend[Any]]


def _operations(backend: ContainerBackend[Any], stream: StreamId) -> dict[str, Callable[[], Any]]:
    store = backend.event_store
    return {
        "append": lambda: store.append(Noted(text="x"), stream_id=stream),
        "load": lambda: store.load_stream(stream),
        "delete": lambda: store.delete_stream(stream),
        "snapshot": lambda: store.save_snapshot(stream, WrappedEvent.wrap(Noted(), version=1)),
    }


def _rejects(
    reliability: ReliabilityReport,
    backend: ContainerBackend[Any],
    kind: str,
    call: Callable[[], Any],
    error: type[Exception],
    *fragments: str,
) -> None:
    """``call`` raises ``error`` whose message holds ``fragments``, and writes nothing."""
    reliability.tried(kind)
    before = footprint(backend)
    with pytest.raises(error) as raised:
        call()
    for fragment in fragments:
        assert fragment in str(raised.value), str(raised.value)
    assert footprint(backend) == before
    reliability.handled(kind)


BAD_NAMES = {"empty": "", "256 characters": "n" * 256, "NUL": "order\x00-1"}


@pytest.mark.parametrize(("label", "name"), BAD_NAMES.items(), ids=list(BAD_NAMES))
def test_invalid_stream_names_are_rejected_by_every_operation(
    make_backend: Backends, reliability: ReliabilityReport, label: str, name: str
) -> None:
    backend = make_backend().with_outbox()
    for operation, call in _operations(backend, StreamId(name=name)).items():
        _rejects(
            reliability,
            backend,
            f"stream name: {label} ({operation})",
            call,
            InvalidStreamName,
            "Stream name",
            "name=None",
        )


BAD_CATEGORIES = {"256 characters": "c" * 256, "NUL": "orders\x00", "surrogate": "orders\ud800"}


@pytest.mark.parametrize(("label", "category"), BAD_CATEGORIES.items(), ids=list(BAD_CATEGORIES))
def test_invalid_categories_are_rejected_by_every_operation(
    make_backend: Backends, reliability: ReliabilityReport, label: str, category: str
) -> None:
    backend = make_backend().with_outbox()
    for operation, call in _operations(backend, StreamId(name="s", category=category)).items():
        _rejects(
            reliability,
            backend,
            f"category: {label} ({operation})",
            call,
            InvalidStreamCategory,
            "Stream category",
            f"at most {255} characters",
        )


BAD_TENANTS: dict[str, object] = {
    "256 characters": "t" * 256,
    "NUL": "acme\x00",
    "surrogate": "\udfffacme",
    "not a string": 42,
}


@pytest.mark.parametrize(("label", "tenant"), BAD_TENANTS.items(), ids=list(BAD_TENANTS))
def test_invalid_tenant_ids_are_rejected_before_any_use(
    make_backend: Backends, reliability: ReliabilityReport, label: str, tenant: Any
) -> None:
    backend = make_backend().with_outbox()
    _rejects(
        reliability,
        backend,
        f"tenant id: {label}",
        lambda: backend.in_tenant_mode(tenant).event_store.append(
            Noted(), stream_id=StreamId(name="s")
        ),
        InvalidTenantId,
        "Tenant id",
        "'' for the default",
    )


def test_identifiers_at_the_limits_are_stored_and_read_back(make_backend: Backends) -> None:
    longest = "é" * 255  # 255 characters, 510 bytes: the limit counts characters
    backend = make_backend().in_tenant_mode(longest)
    stream = StreamId(name=longest, category=longest)
    backend.event_store.append(Noted(text="edge"), stream_id=stream)
    [loaded] = backend.event_store.load_stream(stream)
    assert loaded.event == Noted(text="edge")
    [record] = next(backend.subscriber.start_from(0).to_category(longest).build_batch(5, 0.2))
    assert (record.tenant_id, record.stream_id.name) == (longest, longest)


def test_event_names_too_long_or_with_nul_are_rejected(
    make_backend: Backends, reliability: ReliabilityReport
) -> None:
    backend = make_backend().with_outbox()
    storage = backend[StorageStrategy]
    stream = StreamId(name="named-badly")
    for label, name in {"empty": "", "256 characters": "e" * 256, "NUL": "a\x00b"}.items():
        _rejects(
            reliability,
            backend,
            f"event name: {label}",
            lambda name=name: storage.insert_events(
                stream, NO_VERSIONING, [raw_event(stream, {}, name=name)]
            ),
            InvalidEventName,
            "__event_name__",
        )


NOT_JSON: dict[str, Any] = {
    "NaN": {"value": math.nan},
    "infinity": {"value": {"deep": [math.inf]}},
    "NUL in a string": {"value": "a\x00b"},
    "NUL in a key": {"value": {"k\x00": 1}},
    "surrogate": {"value": "\ud800"},
    "integer key": {"value": {1: "one"}},
    "bytes": {"value": b"raw"},
    "set": {"value": {1, 2}},
    "Decimal": {"value": Decimal("1.5")},
    "datetime": {"value": datetime(2024, 1, 1)},
}


@pytest.mark.parametrize(("label", "data"), NOT_JSON.items(), ids=list(NOT_JSON))
def test_data_that_is_not_plain_json_is_rejected_and_nothing_is_written(
    make_backend: Backends, reliability: ReliabilityReport, label: str, data: dict[str, Any]
) -> None:
    backend = make_backend().with_outbox()
    storage = backend[StorageStrategy]
    stream = StreamId(name=f"not-json-{label}")
    good = raw_event(stream, {"value": 1})
    _rejects(
        reliability,
        backend,
        f"event data: {label}",
        lambda: storage.insert_events(stream, NO_VERSIONING, [good, raw_event(stream, data)]),
        InvalidEventData,
        "cannot be stored",
        "data[",
        "plain JSON",
    )
    _rejects(
        reliability,
        backend,
        f"event context: {label}",
        lambda: storage.insert_events(stream, NO_VERSIONING, [raw_event(stream, {}, context=data)]),
        InvalidEventData,
        "context[",
    )


def test_event_fields_that_cannot_serialise_fail_before_storage(
    make_backend: Backends, reliability: ReliabilityReport
) -> None:
    backend = make_backend().with_outbox()
    stream = StreamId(name="unserialisable")
    _rejects(
        reliability,
        backend,
        "event data: unserialisable field",
        lambda: backend.event_store.append(Payload(value=object()), stream_id=stream),
        PydanticSerializationError,
        "object",
    )
    _rejects(
        reliability,
        backend,
        "event data: NaN float field",
        lambda: backend.event_store.append(Measured(value=math.nan), stream_id=stream),
        InvalidEventData,
        "data['value'] is nan",
    )


def test_the_payload_limit_is_exact_and_a_rejected_append_writes_nothing(
    make_backend: Backends, reliability: ReliabilityReport
) -> None:
    limit = 2_000
    backend = make_backend(max_event_bytes=limit).with_outbox()
    storage = backend[StorageStrategy]
    stream = StreamId(name="sized")
    # {"value":"…"} is 12 bytes around the text, {} 2 more: k ASCII characters make k + 14 bytes.
    fits = raw_event(stream, {"value": "x" * (limit - 14)})
    storage.insert_events(stream, NO_VERSIONING, [fits])
    assert [e.uuid for e in storage.fetch_events(stream)] == [fits.uuid]
    too_big = raw_event(stream, {"value": "x" * (limit - 13)})
    _rejects(
        reliability,
        backend,
        "size limit: over max_event_bytes (append)",
        lambda: storage.insert_events(stream, NO_VERSIONING, [raw_event(stream, {}), too_big]),
        EventTooLarge,
        f"the limit is {limit} (max_event_bytes)",
        "reference",
    )
    _rejects(
        reliability,
        backend,
        "size limit: over max_event_bytes (snapshot)",
        lambda: storage.save_snapshot(raw_event(stream, {"value": "é" * (limit // 2)}, version=1)),
        EventTooLarge,
        "max_event_bytes",
    )
    assert issubclass(EventTooLarge, InvalidInput)
    assert issubclass(InvalidInput, ValueError)


def test_the_append_limits_are_exact_and_a_rejected_append_writes_nothing(
    make_backend: Backends, reliability: ReliabilityReport
) -> None:
    # Each event is {"value":"x…x"} plus {}: 100 characters make 114 bytes.
    backend = make_backend(max_append_bytes=3 * 114, max_append_events=4).with_outbox()
    storage = backend[StorageStrategy]
    stream = StreamId(name="append-limits")

    def events(count: int) -> list[Any]:
        return [raw_event(stream, {"value": "x" * 100}) for _ in range(count)]

    storage.insert_events(stream, NO_VERSIONING, events(3))
    _rejects(
        reliability,
        backend,
        "size limit: over max_append_bytes",
        lambda: storage.insert_events(stream, NO_VERSIONING, events(4)),
        AppendTooLarge,
        "more than 342 bytes",
        "max_append_bytes",
        "smaller appends",
    )
    _rejects(
        reliability,
        backend,
        "size limit: over max_append_events",
        lambda: storage.insert_events(
            stream, NO_VERSIONING, [raw_event(stream, {}) for _ in range(5)]
        ),
        AppendTooLarge,
        "carries 5 events; the limit is 4 (max_append_events)",
    )
    assert issubclass(AppendTooLarge, InvalidInput)


def _nested(depth: int) -> list[Any]:
    """A list nested ``depth`` levels deep (the outer list is level 1)."""
    outer: list[Any] = []
    inner = outer
    for _ in range(depth - 1):
        inner.append([])
        inner = inner[0]
    return outer


def test_deep_nesting_is_rejected_without_recursion(
    make_backend: Backends, reliability: ReliabilityReport
) -> None:
    backend = make_backend().with_outbox()
    storage = backend[StorageStrategy]
    stream = StreamId(name="nested")
    # data is level 1, so a list under "value" may be MAX_JSON_DEPTH - 1 levels deep.
    storage.insert_events(
        stream, NO_VERSIONING, [raw_event(stream, {"value": _nested(MAX_JSON_DEPTH - 1)})]
    )
    for depth in (MAX_JSON_DEPTH, 1_000, 100_000):
        _rejects(
            reliability,
            backend,
            f"event data: nested {depth} levels",
            lambda depth=depth: storage.insert_events(  # type: ignore[misc]
                stream, NO_VERSIONING, [raw_event(stream, {"value": _nested(depth)})]
            ),
            InvalidEventData,
            f"nested {MAX_JSON_DEPTH + 1} levels deep; the limit is {MAX_JSON_DEPTH}",
        )
    _rejects(
        reliability,
        backend,
        "event data: pydantic event nested 300 levels",
        lambda: backend.event_store.append(Payload(value=_nested(300)), stream_id=stream),
        InvalidEventData,
        "nesting",
    )


class Vanishing(Event):
    """An event class that a later release renames."""

    __event_name__ = "retired.OrderVanished"


def test_a_stored_event_with_no_registered_class_names_the_event(
    make_backend: Backends, reliability: ReliabilityReport
) -> None:
    backend = make_backend()
    stream = StreamId(name="haunted")
    start = backend.event_store.position or 0
    backend.event_store.append(Vanishing(), stream_id=stream)
    Vanishing.__event_name__ = "renamed.OrderVanished"  # the class was renamed after the write
    try:
        backend[EventRegistry] = ExplainingEventRegistry()  # as after a restart
        reads = {
            "load_stream": lambda: backend.event_store.load_stream(stream),
            "subscription": lambda: next(backend.subscriber.start_from(start).build_batch(5, 0.2)),
        }
        for where, read in reads.items():
            reliability.tried(f"unknown event name: {where}")
            with pytest.raises(UnknownEventName) as raised:
                read()
            assert "'retired.OrderVanished'" in str(raised.value)
            assert "__event_name__" in str(raised.value)
            assert isinstance(raised.value, KeyError)  # existing `except KeyError` keeps working
            reliability.handled(f"unknown event name: {where}")
    finally:
        Vanishing.__event_name__ = "retired.OrderVanished"
