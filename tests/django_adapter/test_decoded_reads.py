"""Loads and subscriptions build event_sourcery's objects from the rows read (issue 14), and
give exactly what event_sourcery's own path gives: ``fetch_events`` or the subscription
strategy's ``RecordedRaw``s, deserialized by event_sourcery's ``Serde``."""

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from event_sourcery import NO_VERSIONING, StreamId
from event_sourcery.event import Context, Event, Recorded, Serde, WrappedEvent

from eventhex_core_ports._internal.reading import DecodingEventStore, DecodingSubscriptionBuilder
from eventhex_django_adapter import DjangoBackend
from eventhex_django_adapter.subscription import DjangoSubscriptionStrategy

pytestmark = pytest.mark.django_db(databases="__all__")


class Priced(Event):
    sku: str
    cents: int
    ratio: float
    tags: list[str] = []


class Noted(Event):
    text: str


def _serde(backend: DjangoBackend) -> Serde:
    core = backend.container.core
    return Serde(core.event_registry(), core.encryption())


def _same(actual: list[Any], expected: list[Any]) -> None:
    assert actual == expected
    for got, want in zip(actual, expected, strict=True):
        wrapped = (got.wrapped_event, want.wrapped_event) if isinstance(got, Recorded) else None
        got_event, want_event = wrapped or (got, want)
        assert vars(got_event) == vars(want_event)
        assert got_event.context._legacy_fields == want_event.context._legacy_fields
        assert got_event.context.model_fields_set == want_event.context.model_fields_set
        assert type(got_event.event) is type(want_event.event)
        assert got_event.event.model_fields_set == want_event.event.model_fields_set


def _fill(backend: DjangoBackend) -> dict[str, StreamId]:
    store = backend.event_store
    versioned = StreamId(name=f"order-{uuid4()}", category="order")
    plain = StreamId(name=f"note-{uuid4()}", category="note")
    store.append(
        *[Priced(sku=f"s{i}", cents=i, ratio=i / 3, tags=["a.b"] * (i % 2)) for i in range(12)],
        stream_id=versioned,
    )
    context = Context(correlation_id=uuid4(), components={"trace": {"id": "t.1"}})
    store.append(
        WrappedEvent.wrap(Noted(text="with ids"), version=None, context=context),
        stream_id=plain,
        expected_version=NO_VERSIONING,
    )
    store.append(Noted(text="plain"), stream_id=plain, expected_version=NO_VERSIONING)
    snapshot = WrappedEvent.wrap(Priced(sku="snap", cents=0, ratio=0.5), version=8)
    store.save_snapshot(versioned, snapshot)
    return {"versioned": versioned, "plain": plain}


@pytest.mark.parametrize(
    ("stream", "start", "stop"),
    [
        ("versioned", None, None),
        ("versioned", 3, 7),
        ("versioned", 9, None),
        ("plain", None, None),
        ("plain", 2, None),
    ],
)
def test_a_load_gives_what_event_sourcerys_path_gives(
    make_backend: Any, stream: str, start: int | None, stop: int | None
) -> None:
    backend = make_backend()
    streams = _fill(backend)
    store = backend.event_store
    assert isinstance(store, DecodingEventStore)
    raws = backend.container.core.tenant_storage().fetch_events(streams[stream], start, stop)
    expected = [_serde(backend).deserialize(raw) for raw in raws]
    assert expected
    _same(list(store.load_stream(streams[stream], start, stop)), expected)


def _slow_batches(backend: DjangoBackend, selection: str) -> list[Recorded]:
    strategy = backend.container.core.subscription()
    serde, wait = _serde(backend), timedelta(seconds=0.1)
    if selection == "all":
        batches = strategy.subscribe_to_all(0, 100, wait)
    elif selection == "category":
        batches = strategy.subscribe_to_category(0, 100, wait, "note")
    else:
        names = [backend.container.core.event_registry().name_for_type(Noted)]
        batches = strategy.subscribe_to_events(0, 100, wait, names)
    return [serde.deserialize_record(raw) for raw in next(batches)]


@pytest.mark.parametrize("selection", ["all", "category", "events"])
def test_a_subscription_gives_what_event_sourcerys_path_gives(
    make_backend: Any, selection: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = make_backend()
    _fill(backend)
    expected = _slow_batches(backend, selection)
    assert expected

    def not_this_way(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the RecordedRaw path was taken")

    for name in ("subscribe_to_all", "subscribe_to_category", "subscribe_to_events"):
        monkeypatch.setattr(DjangoSubscriptionStrategy, name, not_this_way)
    builder = backend.subscriber
    assert isinstance(builder, DecodingSubscriptionBuilder)
    start = builder.start_from(0)
    phase = (
        start
        if selection == "all"
        else start.to_category("note")
        if selection == "category"
        else start.to_events([Noted])
    )
    _same(next(phase.build_batch(100, timelimit=0.1)), expected)
    one_by_one = backend.subscriber.start_from(0)
    if selection == "category":
        single = one_by_one.to_category("note").build_iter(timelimit=0.1)
    elif selection == "events":
        single = one_by_one.to_events([Noted]).build_iter(timelimit=0.1)
    else:
        single = one_by_one.build_iter(timelimit=0.1)
    _same([next(single) for _ in expected], expected)
    assert next(single) is None


def test_the_builder_refuses_a_short_timelimit_as_event_sourcerys_does(make_backend: Any) -> None:
    with pytest.raises(ValueError, match="at least 100 milliseconds"):
        make_backend().subscriber.start_from(0).build_batch(10, timelimit=0.01)
