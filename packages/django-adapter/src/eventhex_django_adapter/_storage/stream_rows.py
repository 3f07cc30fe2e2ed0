"""The stream row: find it, and the slow path of a claim that raises the exact error.

An append claims its stream before it inserts events (:mod:`.claim`). PostgreSQL claims in its
one append statement (:mod:`.append_sql`) and SQLite with a statement each way; when that claims
nothing, :func:`claim_stream` reads the row to raise the exact error (:func:`check_claimable`,
in the order of :mod:`eventhex_core_ports._internal.stream_claim`), or claims the stream after all
when a race has left it claimable.
"""

from collections.abc import Sequence

from django.db.models import QuerySet
from event_sourcery import StreamId
from event_sourcery.event import RawEvent
from event_sourcery.exceptions import (
    AnotherStreamWithThisNameButOtherIdExists,
    ConcurrentStreamWriteError,
)

from eventhex_core_ports._internal.stream_claim import StreamClaim
from eventhex_core_ports.errors import (
    DuplicateEventUuid,
)
from eventhex_django_adapter._codec import category_of
from eventhex_django_adapter._storage.claim import claim_row, insert_row
from eventhex_django_adapter._storage.event_uuids import stored_uuids
from eventhex_django_adapter.models import Stream

__all__ = ["check_claimable", "claim_stream", "get_or_create_stream", "streams"]


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

    The errors come in :mod:`eventhex_core_ports._internal.stream_claim`'s order; the stored uuids
    are read only when the versions are wrong.

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
    claimed = claim_row(alias, tenant_id, claim)
    if claimed is not None:
        return claimed
    # Another writer changed the row between the read and the claim: its new state says why.
    stream = streams(alias, tenant_id, stream_id).first()
    check_claimable(alias, tenant_id, stream, claim, events)
    raise ConcurrentStreamWriteError(None if stream is None else stream.version, claim.version)


def get_or_create_stream(
    alias: str, tenant_id: str, stream_id: StreamId, version: int | None
) -> Stream:
    """The stream row, created at ``version`` when missing (also when another writer races)."""
    stream = streams(alias, tenant_id, stream_id).first()
    if stream is None:
        stream = insert_row(alias, tenant_id, stream_id, version)
    if stream is None:
        stream = streams(alias, tenant_id, stream_id).get()
    return stream
