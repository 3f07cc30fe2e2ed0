"""``manage.py import_event_sourcery_django`` (``eventhex_django_adapter.contrib.upstream_import``).

Each test creates event_sourcery_django 0.6.1's tables from the app's read-only models, fills
them as that package writes them, imports, and reads the store back through eventhex. The
tests run outside a transaction: the SQLite schema editor cannot run inside one.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from io import StringIO
from uuid import uuid4

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from event_sourcery import StreamId, StreamUUID

from eventhex_core_ports.testing.events import ContractItemAdded
from eventhex_django_adapter.contrib.upstream_import.models import (
    UpstreamEvent,
    UpstreamOutboxEntry,
    UpstreamSnapshot,
    UpstreamStream,
)
from eventhex_django_adapter.models import OutboxEntry

from .conftest import backend_on

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

UPSTREAM = (UpstreamStream, UpstreamEvent, UpstreamSnapshot, UpstreamOutboxEntry)
CONTEXT = {"correlation_id": None, "causation_id": None}
WHEN = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
STREAM = StreamId(uuid=StreamUUID(name="zed"), name="zed", category="account")


@pytest.fixture
def upstream_tables(alias: str) -> Iterator[str]:
    """event_sourcery_django's tables in ``alias``, dropped afterwards."""
    connection = connections[alias]
    with connection.schema_editor() as editor:
        for model in UPSTREAM:
            editor.create_model(model)
    yield alias
    with connection.schema_editor() as editor:
        for model in reversed(UPSTREAM):
            editor.delete_model(model)


def _fill(alias: str) -> list[UpstreamEvent]:
    """A stream of three events; the second still in the outbox, the third out of tries."""
    stream = UpstreamStream.objects.using(alias).create(
        uuid=STREAM, name="zed", category="account", tenant_id="", version=3
    )
    events = [
        UpstreamEvent.objects.using(alias).create(
            stream=stream,
            version=version,
            uuid=uuid4(),
            name="eventhex.contract.ItemAdded",
            data={"item": item, "quantity": 1},
            event_context=CONTEXT,
            created_at=WHEN,
        )
        for version, item in enumerate(["a", "b", "c"], start=1)
    ]
    for event, tries_left in ((events[1], 3), (events[2], 0)):
        UpstreamOutboxEntry.objects.using(alias).create(
            created_at=WHEN,
            stream_name="zed",
            position=event.id,
            tries_left=tries_left,
            data={
                "created_at": WHEN.replace(tzinfo=None).isoformat(),
                "uuid": str(event.uuid),
                "stream_id": str(STREAM),
                "version": event.version,
                "name": event.name,
                "data": event.data,
                "context": CONTEXT,
                "tenant_id": "",
            },
        )
    return events


def _import(alias: str, *options: str) -> str:
    out = StringIO()
    call_command("import_event_sourcery_django", "--database", alias, *options, stdout=out)
    return out.getvalue()


def test_the_store_is_carried_over_and_continues(upstream_tables: str) -> None:
    alias = upstream_tables
    upstream = _fill(alias)

    dry = _import(alias, "--dry-run")
    done = _import(alias, "--outbox-attempts", "3")

    assert dry.startswith(
        "would copy 1 streams, 3 events, 0 snapshots, 1 pending and 1 dead outbox entries"
    )
    assert done.startswith("copied 1 streams, 3 events")
    backend = backend_on(alias).with_outbox()
    loaded = backend.event_store.load_stream(STREAM)
    assert [(e.version, e.event) for e in loaded] == [
        (n, ContractItemAdded(item=item)) for n, item in enumerate("abc", start=1)
    ]
    assert {e.created_at for e in loaded} == {WHEN.replace(tzinfo=None)}
    backend.event_store.append(ContractItemAdded(item="d"), stream_id=STREAM, expected_version=3)
    outbox = OutboxEntry.objects.using(alias).order_by("id")
    assert [[e.version, e.dead, e.stream_category, e.attempts] for e in outbox] == [
        [2, False, "account", 0],  # still pending upstream
        [3, True, "account", 3],  # no tries left upstream: a dead letter
        [4, False, "account", 0],  # appended after the import
    ]
    records = next(backend.subscriber.start_from(0).build_batch(10, timelimit=1))
    positions = [record.position for record in records[:3]]
    if connections[alias].vendor == "sqlite":
        assert "positions: unchanged" in done
        assert positions == [event.id for event in upstream]
    else:
        tx_id = int(done.split("carry tx_id ")[1].split(";")[0])
        assert positions == [(tx_id << 64) | event.id for event in upstream]


def test_nothing_is_imported_into_a_store_that_has_streams(upstream_tables: str) -> None:
    alias = upstream_tables
    _fill(alias)
    backend_on(alias).event_store.append(ContractItemAdded(item="x"), stream_id=StreamId())

    with pytest.raises(CommandError, match=r"eventhex_stream in database .* is not empty"):
        _import(alias)


def test_a_database_without_the_old_tables_is_refused(alias: str) -> None:
    with pytest.raises(CommandError, match="no event_sourcery_django_stream table"):
        _import(alias)
