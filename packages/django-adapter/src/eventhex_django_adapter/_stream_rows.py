"""The stream row through the ORM: find it, create it, claim it for an append.

An append claims its stream before it inserts events: it creates the row, or moves the row's
version on from the expected one, so that no other append can claim the stream at that version.
PostgreSQL claims in its one append statement (:mod:`._append_sql`) and SQLite with a statement
each way (:mod:`._orm_append`); when that claims nothing, :func:`claim_stream` reads the row to
raise the exact error (:func:`check_claimable`, in the order of
:mod:`eventhex_core_ports.stream_claim`), or claims the stream after all when a race has left it
claimable.
"""

from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from event_sourcery import StreamId
from event_sourcery.event import RawEvent
from event_sourcery.exceptions import (
    AnotherStreamWithThisNameButOtherIdExists,
    ConcurrentStreamWriteError,
)

from eventhex_core_ports.stream_claim import StreamClaim
from eventhex_core_ports.validation import DuplicateEventUuid
from eventhex_django_adapter._event_uuids import stored_uuids
from eventhex_django_adapter._records import category_of
from eventhex_django_adapter.models import Stream

__all__ = ["check_claimable", "claim_stream", "create_stream", "get_or_create_stream", "streams"]


def streams(alias: str, tenant_id: str, stream_id: StreamId) -> QuerySet[Stream]:
    """The row of ``tenant_id``'s stream ``stream_id`` (a query matching one row at most)."""
    return Stream.objects.using(alias).filter(
        tenant_id=tenant_id, category=category_of(stream_id), uuid=stream_id
    )


def check_claimable(
    alias: str,
    tenant_id: str,
    stream: Stream | None,
    claim: StreamClaim,
    events: Sequence[RawEvent],
) -> None:
    """Raise unless the append ``claim`` describes may claim ``stream`` (``None``: missing).

    The errors come in :mod:`eventhex_core_ports.stream_claim`'s order; the stored uuids are read
    only when the versions are wrong.

    Raises:
        AnotherStreamWithThisNameButOtherIdExists: The stream is missing and its name belongs
            to another stream of the tenant and category.
        VersioningMismatch: Versioned and unversioned appends were mixed.
        ConcurrentStreamWriteError: The stream is not at the expected version, or (without an
            expected version) already holds the events' versions.
        DuplicateEventUuid: The versions are wrong and an event's uuid is already stored.
        InvalidEventVersions: The versions do not continue the stream.
    """
    exists = stream is not None
    version = stream.version if stream is not None else None
    if stream is None:
        _check_name_is_free(alias, tenant_id, claim.stream_id)
    conflict = claim.conflict(exists, version)
    if conflict is not None:
        raise conflict
    version_error = claim.version_error(exists, version)
    if version_error is None:
        return
    stored = stored_uuids(alias, [raw.uuid for raw in events])
    if stored:
        raise DuplicateEventUuid(stored, claim.stream_id, already_stored=True)
    raise version_error


def _check_name_is_free(alias: str, tenant_id: str, stream_id: StreamId) -> None:
    if stream_id.name is None:
        return
    holders = (
        Stream.objects.using(alias)
        .filter(tenant_id=tenant_id, category=category_of(stream_id), name=stream_id.name)
        .exclude(uuid=stream_id)
        .values_list("uuid", flat=True)
    )
    for uuid in holders:
        raise AnotherStreamWithThisNameButOtherIdExists(
            f"Stream name {stream_id.name!r} already belongs to stream {uuid}, not {stream_id}. "
            "Build the StreamId with the same uuid (or the same StreamId class and name) as the "
            "stream that holds the name."
        )


def claim_stream(
    alias: str,
    tenant_id: str,
    stream_id: StreamId,
    claim: StreamClaim,
    events: Sequence[RawEvent],
) -> Stream:
    """The stream row, created or with its version moved to the append's new version.

    Raises:
        ConcurrentStreamWriteError: The stream is not at the version the append needs, or
            another writer created or changed it first.
        AnotherStreamWithThisNameButOtherIdExists, VersioningMismatch, DuplicateEventUuid,
        InvalidEventVersions: As :func:`check_claimable`.
    """
    stream = streams(alias, tenant_id, stream_id).first()
    check_claimable(alias, tenant_id, stream, claim, events)
    if stream is None:
        created = create_stream(alias, tenant_id, stream_id, claim.new_version)
        if created is not None:
            return created
        stream = streams(alias, tenant_id, stream_id).first()
        check_claimable(alias, tenant_id, stream, claim, events)
        if stream is None:
            raise ConcurrentStreamWriteError(None, claim.version)
    changes: dict[str, Any] = {"version": claim.new_version}
    if stream.name is None and stream_id.name is not None:
        changes["name"] = stream.name = stream_id.name
    claimed = (
        streams(alias, tenant_id, stream_id)
        .filter(pk=stream.pk)
        .filter(Q(version__isnull=True) if claim.version is None else Q(version=claim.version))
        .update(**changes)
    )
    if not claimed:
        raise ConcurrentStreamWriteError(stream.version, claim.version)
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
