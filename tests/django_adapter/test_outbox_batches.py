"""``Outbox.run`` in batches: per-stream order, relay claims, and a consumer that stops early."""

from datetime import timedelta

import pytest
from django.utils import timezone
from event_sourcery import StreamId
from event_sourcery.event import Recorded

from eventhex_core_ports.testing.events import ContractItemAdded
from eventhex_django_adapter.models import OutboxEntry

from .conftest import backend_on

pytestmark = pytest.mark.django_db(databases="__all__")


def _items(records: list[Recorded]) -> list[str]:
    return [r.wrapped_event.event.item for r in records]  # type: ignore[attr-defined]


def test_a_failed_entry_holds_back_the_rest_of_its_stream_only(alias: str) -> None:
    backend = backend_on(alias).with_outbox()
    first, second = StreamId(category="held"), StreamId(category="free")
    backend.event_store.append(
        ContractItemAdded(item="a1"), ContractItemAdded(item="a2"), stream_id=first
    )
    backend.event_store.append(ContractItemAdded(item="b1"), stream_id=second)
    handed_out: list[Recorded] = []

    def fail_a1(record: Recorded) -> None:
        handed_out.append(record)
        if _items([record]) == ["a1"]:
            raise ConnectionError("broker down")

    backend.outbox.run(fail_a1)
    assert _items(handed_out) == ["a1", "b1"]  # a2 waits behind a1

    published: list[Recorded] = []
    backend.outbox.run(published.append)
    assert _items(published) == ["a1", "a2"]
    assert not OutboxEntry.objects.using(alias).exists()


def test_entries_claimed_by_a_relay_are_skipped_with_their_stream(alias: str) -> None:
    backend = backend_on(alias).with_outbox()
    claimed, other = StreamId(category="claimed"), StreamId(category="other")
    backend.event_store.append(
        ContractItemAdded(item="c1"), ContractItemAdded(item="c2"), stream_id=claimed
    )
    backend.event_store.append(ContractItemAdded(item="o1"), stream_id=other)
    OutboxEntry.objects.using(alias).filter(stream_uuid=claimed, version=1).update(
        claimed_by="relay-1", claimed_until=timezone.now() + timedelta(minutes=5)
    )
    published: list[Recorded] = []

    backend.outbox.run(published.append)

    assert _items(published) == ["o1"]
    assert OutboxEntry.objects.using(alias).filter(stream_uuid=claimed).count() == 2


def test_a_consumer_that_stops_early_leaves_the_batch_in_the_outbox(alias: str) -> None:
    backend = backend_on(alias).with_outbox()
    stream = StreamId(category="early")
    backend.event_store.append(
        ContractItemAdded(item="x"), ContractItemAdded(item="y"), stream_id=stream
    )
    strategy = backend.container.outbox_strategy()
    entries = strategy.outbox_entries(limit=10)
    with next(entries) as record:  # published without error
        assert record.entry.version == 1
    entries.close()  # stops before the batch ends: the transaction rolls back

    assert OutboxEntry.objects.using(alias).filter(stream_uuid=stream).count() == 2
    published: list[Recorded] = []
    backend.outbox.run(published.append)
    assert _items(published) == ["x", "y"]
