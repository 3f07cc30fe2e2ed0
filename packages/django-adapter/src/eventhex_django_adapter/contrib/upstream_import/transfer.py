"""Copying an event_sourcery_django store into eventhex's tables, in one transaction.

Row ids of streams and events are kept. So on SQLite every position (the event id there) is
unchanged, and a subscription checkpoint saved with event_sourcery_django stays valid. On
PostgreSQL an eventhex position is ``(tx_id << 64) | event_id``; every imported event gets the
importing transaction's ``tx_id`` (stamped by eventhex, so it stays correct on a database that
was moved to another cluster and rebased), so an old checkpoint ``p`` becomes
``(tx_id << 64) | p`` (the command prints ``tx_id``), and the imported events keep their id
order.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from django.core.management.color import no_style
from django.db import connections, models, transaction
from django.utils import timezone

from eventhex_django_adapter._codec import encode_position, to_db
from eventhex_django_adapter.contrib.upstream_import.models import (
    UpstreamEvent,
    UpstreamOutboxEntry,
    UpstreamSnapshot,
    UpstreamStream,
)
from eventhex_django_adapter.models import Event, OutboxEntry, Snapshot, Stream

__all__ = ["ImportReport", "NothingToImport", "TargetNotEmpty", "copy_store"]

M = TypeVar("M", bound=models.Model)


class NothingToImport(Exception):
    """The event_sourcery_django tables are not in this database."""


class TargetNotEmpty(Exception):
    """eventhex's tables already hold streams; importing would mix two stores."""


@dataclass
class ImportReport:
    """How many rows were copied, and the transaction id positions are built from."""

    streams: int = 0
    events: int = 0
    snapshots: int = 0
    outbox_pending: int = 0
    outbox_dead: int = 0
    tx_id: int | None = None


def _chunks(query: "models.QuerySet[M]", size: int) -> Iterator[list[M]]:
    chunk: list[M] = []
    for row in query.iterator(chunk_size=size):
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def copy_store(
    alias: str = "default", outbox_attempts: int = 3, batch_size: int = 1000, dry_run: bool = False
) -> ImportReport:
    """Copy streams, events, snapshots and outbox entries; all or nothing.

    Args:
        alias: The database holding both sets of tables.
        outbox_attempts: ``max_attempts`` of imported outbox entries (``DjangoConfig``'s).
        batch_size: Rows read and inserted per round trip.
        dry_run: Roll everything back at the end (the report still counts what would be copied).

    Raises:
        NothingToImport: No ``event_sourcery_django_stream`` table in this database.
        TargetNotEmpty: eventhex already has streams in this database.
    """
    if UpstreamStream._meta.db_table not in connections[alias].introspection.table_names():
        raise NothingToImport(f"no {UpstreamStream._meta.db_table} table in database {alias!r}")
    if Stream.objects.using(alias).exists():
        raise TargetNotEmpty(f"eventhex_stream in database {alias!r} is not empty")
    report = ImportReport()
    with transaction.atomic(using=alias):
        streams = _copy_streams(alias, batch_size, report)
        _copy_events(alias, batch_size, streams, report)
        # eventhex's trigger stamps every event with the transaction's tx_id (on PostgreSQL
        # the transaction id plus the store's shift, which a move to another cluster raises)
        report.tx_id = Event.objects.using(alias).values_list("tx_id", flat=True).first()
        _copy_snapshots(alias, batch_size, report)
        _copy_outbox(alias, batch_size, outbox_attempts, report)
        _reset_sequences(alias)
        if dry_run:
            transaction.set_rollback(True, using=alias)
    return report


def _copy_streams(alias: str, size: int, report: ImportReport) -> dict[int, tuple[str, str]]:
    """Copy streams; returns each stream id's (category, tenant_id) for the events."""
    found: dict[int, tuple[str, str]] = {}
    for chunk in _chunks(UpstreamStream.objects.using(alias).order_by("id"), size):
        Stream.objects.using(alias).bulk_create(
            Stream(
                id=row.id,
                uuid=row.uuid,
                name=row.name,
                category=row.category or "",
                tenant_id=row.tenant_id or "",
                version=row.version,
            )
            for row in chunk
        )
        found.update({row.id: (row.category or "", row.tenant_id or "") for row in chunk})
        report.streams += len(chunk)
    return found


def _copy_events(
    alias: str, size: int, streams: dict[int, tuple[str, str]], report: ImportReport
) -> None:
    for chunk in _chunks(UpstreamEvent.objects.using(alias).order_by("id"), size):
        Event.objects.using(alias).bulk_create(
            Event(
                id=row.id,
                stream_id=row.stream_id,
                version=row.version,
                uuid=row.uuid,
                name=row.name,
                data=row.data,
                context=row.event_context,
                created_at=to_db(row.created_at),
                category=streams[row.stream_id][0],
                tenant_id=streams[row.stream_id][1],
            )
            for row in chunk
        )
        report.events += len(chunk)


def _copy_snapshots(alias: str, size: int, report: ImportReport) -> None:
    for chunk in _chunks(UpstreamSnapshot.objects.using(alias).order_by("uuid"), size):
        Snapshot.objects.using(alias).bulk_create(
            Snapshot(
                uuid=row.uuid,
                stream_id=row.stream_id,
                version=row.version,
                name=row.name,
                data=row.data,
                context=row.event_context,
                created_at=to_db(row.created_at),
            )
            for row in chunk
        )
        report.snapshots += len(chunk)


def _copy_outbox(alias: str, size: int, attempts: int, report: ImportReport) -> None:
    """Undelivered entries become eventhex entries; those out of tries arrive dead-lettered."""
    now = timezone.now()
    for chunk in _chunks(UpstreamOutboxEntry.objects.using(alias).order_by("id"), size):
        uuids = [UUID(str(row.data["uuid"])) for row in chunk]
        events = {e.uuid: e for e in Event.objects.using(alias).filter(uuid__in=uuids)}
        entries = [
            _outbox_entry(row, events.get(u), attempts, now)
            for row, u in zip(chunk, uuids, strict=True)
        ]
        OutboxEntry.objects.using(alias).bulk_create(entries)
        report.outbox_dead += sum(entry.dead for entry in entries)
        report.outbox_pending += sum(not entry.dead for entry in entries)


def _outbox_entry(
    row: UpstreamOutboxEntry, event: Event | None, attempts: int, now: datetime
) -> OutboxEntry:
    data: dict[str, Any] = row.data
    dead = row.tries_left <= 0
    position = row.position if event is None else encode_position(event.tx_id, event.pk)
    return OutboxEntry(
        event_uuid=UUID(str(data["uuid"])),
        event_name=data["name"],
        stream_uuid=UUID(str(data["stream_id"])),
        stream_name=row.stream_name,
        stream_category=event.category if event else "",
        tenant_id=data.get("tenant_id") or "",
        version=data.get("version"),
        position=Decimal(position),
        created_at=to_db(datetime.fromisoformat(data["created_at"])),
        data=data.get("data") or {},
        context=data.get("context") or {},
        attempts=max(0, attempts - row.tries_left) if not dead else attempts,
        max_attempts=attempts,
        dead=dead,
        last_error="no tries left in event_sourcery_django" if dead else "",
        enqueued_at=to_db(row.created_at) if row.created_at else now,
    )


def _reset_sequences(alias: str) -> None:
    """Move id sequences past the copied ids (PostgreSQL; SQLite needs nothing)."""
    connection = connections[alias]
    statements = connection.ops.sequence_reset_sql(no_style(), [Stream, Event, OutboxEntry])
    if statements:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
