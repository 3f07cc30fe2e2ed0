"""Reads on SQLite and PostgreSQL: selections, positions, batch sizes, time limits."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from django.db import connections, transaction
from django.test import override_settings
from event_sourcery.event import Recorded

from eventhex_core_ports._internal.serde import FastSerde
from eventhex_django_adapter import DjangoBackend
from tests.django_adapter.subscriptions.conftest import (
    QUICK,
    Flagged,
    Noted,
    make_backend,
    new_stream,
)


def labels(records: list[Recorded]) -> list[str]:
    return [r.wrapped_event.event.label for r in records]  # type: ignore[attr-defined]


def test_all_category_and_event_type_subscriptions_select_their_events(
    backend: DjangoBackend,
) -> None:
    start = backend.event_store.position or 0
    orders, users = new_stream("orders"), new_stream("users")
    backend.event_store.append(Noted(label="o1"), Flagged(label="o2"), stream_id=orders)
    backend.event_store.append(Flagged(label="u1"), stream_id=users)
    backend.event_store.append(Noted(label="o3"), stream_id=orders, expected_version=2)
    subscriber = backend.subscriber

    everything = next(subscriber.start_from(start).build_batch(10, QUICK))
    in_orders = next(subscriber.start_from(start).to_category("orders").build_batch(10, QUICK))
    flagged = next(subscriber.start_from(start).to_events([Flagged]).build_batch(10, QUICK))
    both = next(subscriber.start_from(start).to_events([Noted, Flagged]).build_batch(10, QUICK))

    assert labels(everything) == ["o1", "o2", "u1", "o3"]
    assert labels(in_orders) == ["o1", "o2", "o3"]
    assert labels(flagged) == ["o2", "u1"]
    assert labels(both) == ["o1", "o2", "u1", "o3"]
    assert [r.stream_id for r in everything] == [orders, orders, users, orders]
    assert [r.position for r in both] == [r.position for r in everything]


def test_uncategorised_streams_form_the_empty_category(backend: DjangoBackend) -> None:
    start = backend.event_store.position or 0
    backend.event_store.append(Noted(label="plain"), stream_id=new_stream())
    backend.event_store.append(Noted(label="sorted"), stream_id=new_stream("c"))

    received = next(backend.subscriber.start_from(start).to_category("").build_batch(10, QUICK))

    assert labels(received) == ["plain"]
    assert received[0].stream_id.category is None


def test_positions_increase_and_resume_strictly_after(backend: DjangoBackend) -> None:
    start = backend.event_store.position or 0
    stream = new_stream()
    backend.event_store.append(*(Noted(label=str(n)) for n in range(6)), stream_id=stream)

    first = next(backend.subscriber.start_from(start).build_batch(4, QUICK))
    rest = next(backend.subscriber.start_from(first[1].position).build_batch(10, QUICK))

    positions = [r.position for r in first]
    assert positions == sorted(set(positions))
    assert all(p > start for p in positions)
    assert labels(first) == ["0", "1", "2", "3"]
    assert labels(rest) == ["2", "3", "4", "5"]


def test_positions_past_any_stored_one_resume_after_them(backend: DjangoBackend) -> None:
    """A position no event has (an id or ``tx_id`` part past PostgreSQL's bigint) still works."""
    start = backend.event_store.position or 0
    backend.event_store.append(Noted(label="a"), stream_id=new_stream())
    backend.event_store.append(Noted(label="b"), stream_id=new_stream())
    first = next(backend.subscriber.start_from(start).build_batch(2, QUICK))
    between = first[0].position | (1 << 63)  # past every id of its transaction, if it has one

    after_first = next(backend.subscriber.start_from(between).build_batch(10, QUICK))
    beyond = next(backend.subscriber.start_from(1 << 130).build_batch(10, 0.1))

    assert labels(first) == ["a", "b"]
    assert labels(after_first) == labels([r for r in first if r.position > between])
    assert beyond == []


def test_full_batches_return_then_a_partial_one_at_the_time_limit(
    backend: DjangoBackend,
) -> None:
    start = backend.event_store.position or 0
    backend.event_store.append(*(Noted(label=str(n)) for n in range(7)), stream_id=new_stream())

    batches = backend.subscriber.start_from(start).build_batch(3, QUICK)

    assert [labels(next(batches)) for _ in range(4)] == [
        ["0", "1", "2"],
        ["3", "4", "5"],
        ["6"],
        [],
    ]


def test_build_iter_yields_each_event_then_none(backend: DjangoBackend) -> None:
    start = backend.event_store.position or 0
    backend.event_store.append(Noted(label="a"), Flagged(label="b"), stream_id=new_stream())

    events = backend.subscriber.start_from(start).to_events([Flagged]).build_iter(QUICK)

    first, second = next(events), next(events)
    assert first is not None
    assert labels([first]) == ["b"]
    assert second is None


def test_events_appended_after_subscribing_arrive_in_later_batches(
    backend: DjangoBackend,
) -> None:
    batches = backend.subscriber.start_from(backend.event_store.position or 0).build_batch(5, QUICK)
    assert next(batches) == []

    backend.event_store.append(Noted(label="late"), stream_id=new_stream())

    assert labels(next(batches)) == ["late"]
    assert next(batches) == []


def test_start_from_the_store_position_receives_exactly_what_follows(
    backend: DjangoBackend,
) -> None:
    backend.event_store.append(Noted(label="before"), stream_id=new_stream())
    position = backend.event_store.position
    backend.event_store.append(Noted(label="after"), stream_id=new_stream())

    received = next(backend.subscriber.start_from(position or 0).build_batch(10, QUICK))

    assert position
    assert labels(received) == ["after"]
    assert backend.event_store.position == received[-1].position


def test_own_appends_are_readable_inside_an_outer_transaction(database: str) -> None:
    backend = make_backend(database)
    start = backend.event_store.position or 0
    backend.event_store.append(Noted(label="earlier"), stream_id=new_stream())
    with transaction.atomic(using=database):
        backend.event_store.append(
            Noted(label="mine-1"), Noted(label="mine-2"), stream_id=new_stream()
        )
        received = next(backend.subscriber.start_from(start).build_batch(10, QUICK))
        inside = backend.event_store.position

    assert labels(received) == ["earlier", "mine-1", "mine-2"]
    assert inside == received[-1].position


def test_tenants_share_the_subscription_and_are_reported(backend: DjangoBackend) -> None:
    start = backend.event_store.position or 0
    backend.in_tenant_mode("acme").event_store.append(Noted(label="t"), stream_id=new_stream())
    backend.event_store.append(Noted(label="d"), stream_id=new_stream())

    received = next(backend.subscriber.start_from(start).build_batch(10, QUICK))

    assert [(r.tenant_id, labels([r])[0]) for r in received] == [("acme", "t"), ("", "d")]


def test_committed_appends_are_read_in_commit_order(committed_database: str) -> None:
    backend = make_backend(committed_database)
    start = backend.event_store.position or 0
    streams = [new_stream("a"), new_stream("b")]
    for n in range(6):
        backend.event_store.append(
            Noted(label=str(n)), stream_id=streams[n % 2], expected_version=n // 2
        )

    received = next(backend.subscriber.start_from(start).build_batch(10, QUICK))
    in_b = next(backend.subscriber.start_from(start).to_category("b").build_batch(10, QUICK))

    assert labels(received) == ["0", "1", "2", "3", "4", "5"]
    assert labels(in_b) == ["1", "3", "5"]


@pytest.mark.parametrize("use_tz", [True, False])
def test_created_at_matches_what_the_store_loads_with_and_without_use_tz(
    committed_database: str, use_tz: bool
) -> None:
    connections[committed_database].close()
    try:
        with override_settings(USE_TZ=use_tz, TIME_ZONE="America/Chicago"):
            backend = make_backend(committed_database)
            start = backend.event_store.position or 0
            stream = new_stream()
            backend.event_store.append(Noted(label="when"), stream_id=stream)

            received = next(backend.subscriber.start_from(start).build_batch(10, QUICK))
            loaded = backend.event_store.load_stream(stream)
    finally:
        connections[committed_database].close()

    assert len(received) == 1
    assert received[0].wrapped_event.created_at == loaded[0].created_at


def test_pages_and_loads_are_built_with_the_collector_paused_and_leave_it_enabled(
    backend: DjangoBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every event of a page and of a loaded stream is built while automatic collection is
    paused (ADR 0021); afterwards the collector is enabled again."""
    start = backend.event_store.position or 0
    stream = new_stream()
    backend.event_store.append(*[Noted(label=str(n)) for n in range(30)], stream_id=stream)
    paused_while_built: list[bool] = []
    wrap_stored = FastSerde.wrap_stored

    def watched(self: FastSerde, *args: Any) -> Any:
        paused_while_built.append(not gc.isenabled())
        return wrap_stored(self, *args)

    monkeypatch.setattr(FastSerde, "wrap_stored", watched)
    assert gc.isenabled()

    page = next(backend.subscriber.start_from(start).build_batch(30, QUICK))
    loaded = backend.event_store.load_stream(stream)

    assert labels(page) == [str(n) for n in range(30)]
    assert [e.event.label for e in loaded] == [str(n) for n in range(30)]  # type: ignore[attr-defined]
    assert paused_while_built == [True] * 60
    assert gc.isenabled()
