"""Telling an append's duplicate event uuid apart from its other integrity errors.

``eventhex_event`` has two unique constraints an append can break: one on ``uuid`` and one on
``(stream, version)``. An event appended a second time to its own stream breaks both, and the
database reports whichever it checks first (SQLite the version one, PostgreSQL the uuid one).
The adapter reads which from the error alone, so a successful append pays nothing: on PostgreSQL
the violated constraint's name (the driver's ``diag.constraint_name``), on SQLite the message,
which names the table and columns. Only on that error path does it query which of the append's
uuids are stored.
"""

from collections.abc import Sequence
from uuid import UUID

from django.db import IntegrityError, connections

from eventhex_django_adapter.models import Event

__all__ = [
    "EVENT_UUID_CONSTRAINT",
    "EVENT_VERSION_CONSTRAINT",
    "duplicated_uuids",
    "stored_uuids",
]

EVENT_UUID_CONSTRAINT = "eventhex_event_uuid_key"
"""PostgreSQL's name for the unique constraint on ``eventhex_event.uuid`` """

EVENT_VERSION_CONSTRAINT = "eventhex_event_version_uniq"
"""The unique constraint on ``eventhex_event (stream_id, version)``."""

_TABLE = Event._meta.db_table
_SQLITE_UUID = f"UNIQUE constraint failed: {_TABLE}.uuid"
_SQLITE_VERSION = f"UNIQUE constraint failed: {_TABLE}.stream_id, {_TABLE}.version"


def duplicated_uuids(error: IntegrityError, alias: str, uuids: Sequence[UUID]) -> list[UUID]:
    """The stored uuids among ``uuids`` that made an append fail with ``error``.

    Call it after the append was rolled back. Empty when ``error`` is not about an event
    constraint, or when it is the version constraint and none of ``uuids`` is stored (appends
    whose versions do not continue the stream are rejected before any statement, so that means
    a stream row whose version lags its events, written around the adapter; the error is left
    as it is). When the uuid constraint failed but the stored uuids
    cannot be read (the caller's transaction is already broken, or a concurrent deletion
    removed them), all of ``uuids`` are returned.
    """
    diag = getattr(error.__cause__, "diag", None)
    if diag is not None:
        constraint = getattr(diag, "constraint_name", None)
        on_uuid, on_version = (
            constraint == EVENT_UUID_CONSTRAINT,
            constraint == EVENT_VERSION_CONSTRAINT,
        )
    else:
        message = str(error)
        on_uuid, on_version = message == _SQLITE_UUID, message == _SQLITE_VERSION
    if not (on_uuid or on_version):
        return []
    stored = stored_uuids(alias, uuids)
    if on_uuid:
        return stored or list(uuids)
    return stored


def stored_uuids(alias: str, uuids: Sequence[UUID]) -> list[UUID]:
    """The ones among ``uuids`` that stored events carry, in the order given.

    Empty when the current transaction is broken (``needs_rollback``) and cannot be read.
    """
    if connections[alias].needs_rollback:
        return []
    found = set(Event.objects.using(alias).filter(uuid__in=uuids).values_list("uuid", flat=True))
    return [uuid for uuid in uuids if uuid in found]
