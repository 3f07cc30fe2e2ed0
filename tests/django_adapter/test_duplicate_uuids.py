"""A stored event uuid appended again: ``DuplicateEventUuid``, nothing written, and real commits.

The contract kit checks the behaviour inside the test's transaction; these tests commit for
real (``transaction=True``), so they also cover PostgreSQL's one-statement append outside any
transaction and a caller's own outermost ``transaction.atomic()``.
"""

import dataclasses

import pytest
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext
from event_sourcery import StreamId
from event_sourcery.event import WrappedEvent

from eventhex_core_ports.errors import (
    DuplicateEventUuid,
)
from eventhex_core_ports.testing.events import ContractItemAdded
from eventhex_django_adapter import DjangoBackend
from eventhex_django_adapter._storage.event_uuids import (
    EVENT_UUID_CONSTRAINT,
    EVENT_VERSION_CONSTRAINT,
)
from eventhex_django_adapter.models import Event, OutboxEntry, Stream

from .conftest import backend_on

committing = pytest.mark.django_db(databases="__all__", transaction=True)


def _stored(backend: DjangoBackend) -> WrappedEvent[ContractItemAdded]:
    stored = WrappedEvent.wrap(ContractItemAdded(item="stored"), version=1)
    backend.event_store.append(stored, stream_id=StreamId(category="elsewhere"))
    return stored


def _items(backend: DjangoBackend, stream: StreamId) -> list[str]:
    return [e.event.item for e in backend.event_store.load_stream(stream)]


@committing
def test_outside_a_transaction_the_append_writes_nothing(alias: str) -> None:
    backend = backend_on(alias).with_outbox()
    stored = _stored(backend)
    target = StreamId(name="duplicate-target", category="target")
    fresh = WrappedEvent.wrap(ContractItemAdded(item="fresh"), version=1)

    with pytest.raises(DuplicateEventUuid) as raised:
        backend.event_store.append(fresh, dataclasses.replace(stored, version=2), stream_id=target)

    assert raised.value.uuids == (stored.uuid,)
    assert not connections[alias].in_atomic_block
    assert not Stream.objects.using(alias).filter(uuid=target).exists()
    assert not Event.objects.using(alias).filter(uuid=fresh.uuid).exists()
    assert not OutboxEntry.objects.using(alias).filter(stream_uuid=target).exists()
    with CaptureQueriesContext(connections[alias]) as good:
        backend.event_store.append(fresh, stream_id=target)
    if connections[alias].vendor == "postgresql":
        assert len(good.captured_queries) == 1  # the happy path is still one statement
    assert _items(backend, target) == ["fresh"]
    assert OutboxEntry.objects.using(alias).filter(stream_uuid=target).count() == 1


@committing
def test_callers_transaction_survives_and_commits_the_good_appends(alias: str) -> None:
    backend = backend_on(alias).with_outbox()
    stored = _stored(backend)
    target = StreamId(category="target")
    fresh = WrappedEvent.wrap(ContractItemAdded(item="fresh"), version=2)

    with transaction.atomic(using=alias):
        backend.event_store.append(ContractItemAdded(item="before"), stream_id=target)
        with pytest.raises(DuplicateEventUuid):
            backend.event_store.append(
                fresh, dataclasses.replace(stored, version=3), stream_id=target, expected_version=1
            )
        backend.event_store.append(
            ContractItemAdded(item="after"), stream_id=target, expected_version=1
        )

    assert not connections[alias].in_atomic_block  # committed, not rolled back
    assert _items(backend, target) == ["before", "after"]
    assert Stream.objects.using(alias).get(uuid=target).version == 2
    assert not Event.objects.using(alias).filter(uuid=fresh.uuid).exists()
    assert OutboxEntry.objects.using(alias).filter(stream_uuid=target).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"])
def test_postgres_constraint_names_are_the_ones_the_adapter_recognises() -> None:
    connection = connections["postgres"]
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Event._meta.db_table)

    assert constraints[EVENT_UUID_CONSTRAINT]["columns"] == ["uuid"]
    assert constraints[EVENT_UUID_CONSTRAINT]["unique"]
    assert constraints[EVENT_VERSION_CONSTRAINT]["columns"] == ["stream_id", "version"]
    assert constraints[EVENT_VERSION_CONSTRAINT]["unique"]
