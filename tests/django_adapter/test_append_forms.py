"""PostgreSQL's append statement comes in two forms (``_storage/append_sql.py``): one event in
scalar parameters, several in a JSON array. For every kind of claim, with and without
notifications, each form stores exactly the events it was given, the outbox rows its filter
accepts, and hands in-transaction listeners the positions it stored."""

from typing import Any
from uuid import UUID

import pytest
from django.db import transaction
from event_sourcery import NO_VERSIONING, StreamId
from event_sourcery.event import Position, RawEvent, WrappedEvent

from eventhex_core_ports.testing.events import ContractItemAdded
from eventhex_django_adapter._codec import encode_position
from eventhex_django_adapter.models import Event, OutboxEntry

from .conftest import backend_on

pytestmark = [pytest.mark.django_db(databases=["postgres"], transaction=True), pytest.mark.postgres]


def _not_skipped(raw: RawEvent) -> bool:
    return bool(raw.data["item"] != "skip")


@pytest.mark.parametrize("notifications", [True, False], ids=["notifying", "quiet"])
@pytest.mark.parametrize("claim", ["new", "existing", "any"])
@pytest.mark.parametrize("count", [1, 3], ids=["one-event", "three-events"])
def test_each_form_stores_its_events_outbox_rows_and_positions(
    count: int, claim: str, notifications: bool
) -> None:
    backend = backend_on("postgres", notifications=notifications).with_outbox(_not_skipped)
    heard: list[tuple[Any, Position | None]] = []

    def listener(event: WrappedEvent[Any], _: StreamId, __: str, position: Position | None) -> None:
        heard.append((event.uuid, position))

    backend.in_transaction.register(listener, to=ContractItemAdded)
    store = backend.event_store
    stream = StreamId(name=f"forms-{claim}-{count}-{notifications}", category="forms")
    versioning: Any = NO_VERSIONING if claim == "any" else 0
    if claim != "new":  # the stream exists: the append claims it by an update
        store.append(ContractItemAdded(item="first"), stream_id=stream, expected_version=versioning)
        versioning = NO_VERSIONING if claim == "any" else 1
    items = [f"item-{n}" for n in range(count - 1)] + ["skip" if count > 1 else "only"]
    heard.clear()

    with transaction.atomic(using="postgres"):
        store.append(
            *[ContractItemAdded(item=item) for item in items],
            stream_id=stream,
            expected_version=versioning,
        )

    rows = list(Event.objects.using("postgres").filter(stream__uuid=stream).order_by("id"))
    appended = rows[-count:]
    assert [row.data["item"] for row in appended] == items
    first = 0 if claim == "new" else 1
    expected_versions = (
        [None] * count if claim == "any" else list(range(first + 1, first + count + 1))
    )
    assert [row.version for row in appended] == expected_versions
    assert {(row.name, row.category, row.tenant_id) for row in appended} == {
        (rows[0].name, "forms", "")
    }
    assert heard == [(row.uuid, encode_position(row.tx_id, row.id)) for row in appended]

    outbox = list(
        OutboxEntry.objects.using("postgres")
        .filter(event_uuid__in=[row.uuid for row in appended])
        .order_by("id")
    )
    kept = [row for row in appended if row.data["item"] != "skip"]
    assert [(entry.event_uuid, entry.position) for entry in outbox] == [
        (row.uuid, encode_position(row.tx_id, row.id)) for row in kept
    ]
    assert [
        (entry.version, entry.data, entry.context, entry.created_at, entry.event_name)
        for entry in outbox
    ] == [(row.version, row.data, row.context, row.created_at, row.name) for row in kept]
    assert {(e.stream_uuid, e.stream_name, e.stream_category) for e in outbox} == {
        (UUID(str(stream)), stream.name, "forms")
    }
