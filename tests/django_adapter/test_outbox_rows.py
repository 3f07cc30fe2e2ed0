"""Outbox rows on both databases (the outbox, key storage and cursors contracts are in
``test_contract.py``)."""

import threading

import pytest
from django.db import connections
from event_sourcery import StreamId
from event_sourcery.event import Recorded

from eventhex_core_ports.testing.events import ContractItemAdded
from eventhex_django_adapter.models import OutboxEntry

from .conftest import backend_on

pytestmark = pytest.mark.django_db(databases="__all__")


def test_outbox_rows_are_written_with_the_append(alias: str) -> None:
    backend = backend_on(alias, outbox_attempts=2).with_outbox()
    stream = StreamId(name="outboxed", category="orders")
    backend.event_store.append(
        ContractItemAdded(item="a"), ContractItemAdded(item="b"), stream_id=stream
    )

    rows = list(OutboxEntry.objects.using(alias).filter(stream_uuid=stream).order_by("id"))

    assert [(r.version, r.stream_name, r.stream_category, r.max_attempts) for r in rows] == [
        (1, "outboxed", "orders", 2),
        (2, "outboxed", "orders", 2),
    ]
    assert rows[0].position < rows[1].position


def test_failed_publishing_is_recorded_and_the_entry_dies(alias: str) -> None:
    backend = backend_on(alias, outbox_attempts=2).with_outbox()
    stream = StreamId()
    backend.event_store.append(ContractItemAdded(item="a"), stream_id=stream)

    def fail(record: Recorded) -> None:
        raise ConnectionError("broker down")

    backend.outbox.run(fail)
    entry = OutboxEntry.objects.using(alias).get(stream_uuid=stream)
    assert (entry.attempts, entry.dead, entry.last_error) == (
        1,
        False,
        "ConnectionError: broker down",
    )
    backend.outbox.run(fail)
    entry.refresh_from_db()
    assert (entry.attempts, entry.dead) == (2, True)

    published: list[Recorded] = []
    backend.outbox.run(published.append)
    assert published == []  # dead entries stay for an operator, unpublished


def test_published_entries_are_deleted_and_carry_the_record(alias: str) -> None:
    backend = backend_on(alias).with_outbox()
    stream = StreamId(category="orders")
    backend.in_tenant_mode("t1").event_store.append(ContractItemAdded(item="a"), stream_id=stream)
    published: list[Recorded] = []

    backend.outbox.run(published.append)

    (record,) = published
    assert (record.stream_id, record.tenant_id) == (stream, "t1")
    assert record.wrapped_event.event == ContractItemAdded(item="a")
    assert not OutboxEntry.objects.using(alias).filter(stream_uuid=stream).exists()


@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"], transaction=True)
def test_concurrent_outbox_runs_skip_the_entry_another_run_is_publishing() -> None:
    backend = backend_on("postgres").with_outbox()
    for item in "abc":
        backend.event_store.append(ContractItemAdded(item=item), stream_id=StreamId())
    holding, release = threading.Event(), threading.Event()
    held: list[Recorded] = []

    def publish_slowly(record: Recorded) -> None:
        held.append(record)
        holding.set()
        release.wait(30)

    def first_run() -> None:
        try:
            backend.outbox.run(publish_slowly, limit=1)
        finally:
            connections.close_all()

    runner = threading.Thread(target=first_run)
    runner.start()
    try:
        assert holding.wait(30)
        published: list[Recorded] = []
        backend.outbox.run(published.append)
    finally:
        release.set()
        runner.join(30)

    assert [r.wrapped_event.event.item for r in held] == ["a"]  # type: ignore[attr-defined]
    assert [r.wrapped_event.event.item for r in published] == ["b", "c"]  # type: ignore[attr-defined]
    assert not OutboxEntry.objects.using("postgres").exists()


@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"], transaction=True)
def test_a_relay_takes_nothing_of_a_stream_whose_head_an_outbox_run_holds() -> None:
    from datetime import timedelta

    from event_sourcery.event import WrappedEvent

    from eventhex_django_adapter.relay_source import DjangoOutboxSource

    backend = backend_on("postgres").with_outbox()
    busy, quiet = StreamId(), StreamId()
    backend.event_store.append(
        *(WrappedEvent.wrap(ContractItemAdded(item=f"a{n}"), version=n) for n in range(1, 5)),
        stream_id=busy,
    )
    backend.event_store.append(ContractItemAdded(item="q"), stream_id=quiet)
    holding, release = threading.Event(), threading.Event()

    def publish_slowly(record: Recorded) -> None:
        holding.set()
        release.wait(30)

    def first_run() -> None:
        try:  # locks a1 and a2 (its claim) and holds them while "publishing" a1
            backend.outbox.run(publish_slowly, limit=2)
        finally:
            connections.close_all()

    runner = threading.Thread(target=first_run)
    runner.start()
    source = DjangoOutboxSource("postgres")
    try:
        assert holding.wait(30)
        claimed = source.claim("relay", 10, timedelta(minutes=1))
    finally:
        release.set()
        runner.join(30)
        source.close()

    # a3 and a4 are due and nothing leases them, but the run's claim holds their stream's head
    assert [m.data["item"] for m in claimed] == ["q"]


def test_messages_decode_json_text_and_list_damaged_rows_leniently() -> None:
    from datetime import UTC, datetime
    from uuid import uuid4

    from eventhex_django_adapter._outbox.rows import (
        CorruptOutboxRow,
        dead_letter_from_row,
        message_from_row,
    )

    row = [1, uuid4(), "Thing", uuid4(), None, "", "", 1, "7", datetime.now(UTC)]
    row += ['{"amount": 5}', None, 0, 3, ""]
    message = message_from_row(row)
    assert (message.data, message.position) == ({"amount": 5}, 7)
    assert message.context == {"causation_id": None, "correlation_id": None}
    damaged = [*row[:10], "not json", "[1]", 3, 3, "boom"]
    with pytest.raises(CorruptOutboxRow, match="data is not a JSON object"):
        message_from_row(damaged)
    listed = dead_letter_from_row(damaged)
    assert (listed.data, listed.context) == ({"corrupt": "not json"}, {"corrupt": [1]})
