"""Event versions that do not continue the stream: ``InvalidEventVersions``, and no write at all.

The contract kit checks the behaviour inside the test's transaction; these tests commit for
real (``transaction=True``), so they cover PostgreSQL's one-statement append outside any
transaction, and check that a rejected append sends the database nothing but reads.
"""

import pytest
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext
from event_sourcery import StreamId
from event_sourcery.event import WrappedEvent

from eventhex_core_ports.errors import (
    InvalidEventVersions,
)
from eventhex_core_ports.testing.events import ContractItemAdded
from eventhex_django_adapter.models import Event, OutboxEntry, Stream

from .conftest import backend_on

committing = pytest.mark.django_db(databases="__all__", transaction=True)


@committing
def test_rejected_versions_only_read_and_the_next_append_is_one_statement(alias: str) -> None:
    backend = backend_on(alias).with_outbox()
    stream = StreamId(name="versions-target", category="target")
    backend.event_store.append(ContractItemAdded(item="first"), stream_id=stream)
    clashing = WrappedEvent.wrap(ContractItemAdded(item="clashing"), version=1)

    with (
        CaptureQueriesContext(connections[alias]) as rejected,
        pytest.raises(InvalidEventVersions),
    ):
        backend.event_store.append(clashing, stream_id=stream, expected_version=1)

    statements = [query["sql"].lstrip().split()[0].upper() for query in rejected.captured_queries]
    assert statements
    assert set(statements) == {"SELECT"}
    assert not connections[alias].in_atomic_block
    assert Stream.objects.using(alias).get(uuid=stream).version == 1
    assert not Event.objects.using(alias).filter(uuid=clashing.uuid).exists()
    assert OutboxEntry.objects.using(alias).filter(stream_uuid=stream).count() == 1
    with CaptureQueriesContext(connections[alias]) as good:
        backend.event_store.append(
            ContractItemAdded(item="second"), stream_id=stream, expected_version=1
        )
    if connections[alias].vendor == "postgresql":
        assert len(good.captured_queries) == 1
    assert [e.version for e in backend.event_store.load_stream(stream)] == [1, 2]


@committing
def test_callers_transaction_commits_around_a_rejected_append(alias: str) -> None:
    backend = backend_on(alias)
    stream = StreamId(category="target")

    with transaction.atomic(using=alias):
        backend.event_store.append(ContractItemAdded(item="before"), stream_id=stream)
        with pytest.raises(InvalidEventVersions):
            backend.event_store.append(
                WrappedEvent.wrap(ContractItemAdded(item="gap"), version=3),
                stream_id=stream,
                expected_version=1,
            )
        backend.event_store.append(
            ContractItemAdded(item="after"), stream_id=stream, expected_version=1
        )

    assert not connections[alias].in_atomic_block  # committed, not rolled back
    assert Stream.objects.using(alias).get(uuid=stream).version == 2
    assert [e.version for e in backend.event_store.load_stream(stream)] == [1, 2]
