"""The stream row through the ORM: find it, create it, claim it for an append.

An append claims its stream before it inserts events: it creates the row, or moves the row's
version on from the expected one, so that no other append can claim the stream at that version.
PostgreSQL claims in its one append statement (:mod:`._append_sql`) and SQLite with a statement
each way (:mod:`._orm_append`); when that claims nothing, :func:`claim_stream` reads the row to
raise the exact error (``ConcurrentStreamWriteError`` or a ``VersioningMismatch``), or claims the
stream after all when a race has left it claimable.
"""

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from event_sourcery import NO_VERSIONING, StreamId
from event_sourcery.exceptions import ConcurrentStreamWriteError
from event_sourcery.interfaces import Versioning

from eventhex_django_adapter._records import category_of
from eventhex_django_adapter.models import Stream

__all__ = ["check_claimable", "claim_stream", "create_stream", "get_or_create_stream", "streams"]


def streams(alias: str, tenant_id: str, stream_id: StreamId) -> QuerySet[Stream]:
    """The row of ``tenant_id``'s stream ``stream_id`` (a query matching one row at most)."""
    return Stream.objects.using(alias).filter(
        tenant_id=tenant_id, category=category_of(stream_id), uuid=stream_id
    )


def check_claimable(stream: Stream | None, versioning: Versioning) -> None:
    """Raise unless an append with ``versioning`` may claim ``stream`` (``None``: missing).

    Raises:
        ConcurrentStreamWriteError: The stream is not at the expected version (a missing
            stream is at version 0).
        VersioningMismatch: Versioned and unversioned appends were mixed.
    """
    expected = versioning.expected_version
    if stream is None:
        if versioning is not NO_VERSIONING and expected != 0:
            raise ConcurrentStreamWriteError(None, expected)
        return
    versioning.validate_if_compatible(stream.version)
    if stream.version != expected:
        raise ConcurrentStreamWriteError(stream.version, expected)


def claim_stream(
    alias: str,
    tenant_id: str,
    stream_id: StreamId,
    versioning: Versioning,
    new_version: int | None,
) -> Stream:
    """The stream row, created or with its version moved to ``new_version``.

    Raises:
        ConcurrentStreamWriteError: The stream is not at the expected version, or another
            writer created or changed it first.
        VersioningMismatch: Versioned and unversioned appends were mixed.
    """
    expected = versioning.expected_version
    stream = streams(alias, tenant_id, stream_id).first()
    check_claimable(stream, versioning)
    if stream is None:
        created = create_stream(
            alias, tenant_id, stream_id, None if versioning is NO_VERSIONING else new_version
        )
        if created is not None:
            return created
        stream = streams(alias, tenant_id, stream_id).first()
        if stream is None:
            raise ConcurrentStreamWriteError(None, expected)
        check_claimable(stream, versioning)
    changes: dict[str, Any] = {"version": new_version if expected is not None else None}
    if stream.name is None and stream_id.name is not None:
        changes["name"] = stream.name = stream_id.name
    claimed = (
        streams(alias, tenant_id, stream_id)
        .filter(pk=stream.pk)
        .filter(Q(version__isnull=True) if expected is None else Q(version=expected))
        .update(**changes)
    )
    if not claimed:
        raise ConcurrentStreamWriteError(stream.version, expected)
    return stream


def get_or_create_stream(
    alias: str, tenant_id: str, stream_id: StreamId, version: int | None
) -> Stream:
    """The stream row, created at ``version`` when missing (also when another writer races)."""
    stream = streams(alias, tenant_id, stream_id).first()
    if stream is None:
        stream = create_stream(alias, tenant_id, stream_id, version)
    if stream is None:
        stream = streams(alias, tenant_id, stream_id).get()
    return stream


def create_stream(
    alias: str, tenant_id: str, stream_id: StreamId, version: int | None
) -> Stream | None:
    """Insert the stream row; ``None`` when another writer inserted it first."""
    try:
        with transaction.atomic(using=alias):
            return Stream.objects.using(alias).create(
                uuid=stream_id,
                name=stream_id.name,
                category=category_of(stream_id),
                tenant_id=tenant_id,
                version=version,
            )
    except IntegrityError:
        return None
