"""The checks an append passes before it writes, and the mapping of its duplicate-uuid errors.

Every append is checked before any statement runs (:func:`check_append`): the input rules of
:mod:`eventhex_core_ports._internal.validation`, then the event versions as far as the append alone
tells (:class:`~eventhex_core_ports._internal.stream_claim.StreamClaim`). Versions that cannot
continue the stream raise ``InvalidEventVersions``, but only after the errors that take precedence
on every adapter: the stream row and the stored uuids are read (never written) to raise a versioning
error, then ``DuplicateEventUuid``, when one applies. So such an append never reaches the
``(stream, version)`` constraint.

An event uuid that is already stored makes an insert fail on a unique constraint of
``eventhex_event``. The failed statement, or the rolled-back atomic block (a savepoint inside a
caller's transaction), has written nothing, and :func:`duplicate_uuid_error` turns the
``IntegrityError`` into ``DuplicateEventUuid`` naming the stored uuids, found by a query that
only this error path runs (:mod:`.event_uuids`).
"""

from django.db import IntegrityError
from event_sourcery import StreamId
from event_sourcery.event import RawEvent
from event_sourcery.interfaces import Versioning

from eventhex_core_ports._internal.stream_claim import StreamClaim
from eventhex_core_ports._internal.validation import (
    check_events,
    check_stream_id,
)
from eventhex_core_ports.errors import (
    DuplicateEventUuid,
)
from eventhex_django_adapter._storage.event_uuids import duplicated_uuids
from eventhex_django_adapter._storage.stream_rows import check_claimable, streams

__all__ = ["check_append", "duplicate_uuid_error"]


def check_append(
    alias: str,
    tenant_id: str,
    stream_id: StreamId,
    versioning: Versioning,
    events: list[RawEvent],
    max_event_bytes: int,
    max_append_bytes: int,
    max_append_events: int,
) -> tuple[StreamClaim | None, list[tuple[str, str]]]:
    """Check an append of ``events`` before anything is written.

    Returns:
        What the append needs of its stream (``None`` when ``events`` is empty), and each
        event's data and context as compact JSON (see ``encode_checked_event``).

    Raises:
        ConcurrentStreamWriteError: The versions are wrong and so is the expected version.
        VersioningMismatch: The versions are wrong and the append mixes versioned and
            unversioned writes.
        DuplicateEventUuid: Two of ``events`` share a uuid, or the versions are wrong and one
            of the uuids is already stored.
        InvalidEventVersions: The versions do not continue the stream.
        InvalidInput: An identifier or payload breaks the input rules.
    """
    check_stream_id(stream_id)
    payloads = check_events(
        events, max_event_bytes, max_append_bytes, max_append_events, checked_stream_id=stream_id
    )
    claim = StreamClaim(stream_id, versioning, events) if events else None
    if claim is not None and not claim.versions_continue:
        stream = streams(alias, tenant_id, stream_id).first()
        check_claimable(alias, tenant_id, stream, claim, events)
    return claim, payloads


def duplicate_uuid_error(
    error: IntegrityError, alias: str, stream_id: StreamId, events: list[RawEvent]
) -> DuplicateEventUuid | None:
    """The ``DuplicateEventUuid`` behind an append's ``error``; ``None`` when it is not one.

    Call it once the append has been rolled back.
    """
    stored = duplicated_uuids(error, alias, [raw.uuid for raw in events])
    if not stored:
        return None
    return DuplicateEventUuid(stored, stream_id, already_stored=True)
