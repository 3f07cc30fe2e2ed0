"""When an append may claim its stream: the one rule every adapter applies.

It implements "event versions continue the stream", stated for users in docs/guarantees.md
("Appends").

An append *claims* its stream before it writes: it creates the stream row, or moves the row's
version on from the version the stream must be at, so that no other append can claim the
stream at that version. What that version is depends on the append's ``expected_version``:

* ``N > 0``: the stream must be at version N (optimistic concurrency, as always);
* ``0`` (``EventStore.append``'s default): no expected version is checked, as in every
  event_sourcery backend. The events' own versions must continue the stream, so the stream must
  be at the version just before the first event's. If the stream is already past it, another
  writer took those versions first and the append raises ``ConcurrentStreamWriteError``: two
  plain appends of version 1 cannot both succeed, and no stream ever holds two events with one
  version. Versions that would leave a gap raise ``InvalidEventVersions``;
* ``NO_VERSIONING``: the stream must be unversioned (or new); its events carry no version.

Errors come in one order on every adapter: a versioning mismatch, then a concurrent write
(:meth:`StreamClaim.conflict`), then an already-stored event uuid (found by the adapter), then
versions that do not continue the stream (:meth:`StreamClaim.version_error`).
"""

from collections.abc import Sequence

from event_sourcery import NO_VERSIONING, StreamId
from event_sourcery.event import RawEvent
from event_sourcery.exceptions import ConcurrentStreamWriteError, EventStoreException
from event_sourcery.interfaces import Versioning

from eventhex_core_ports.errors import InvalidEventVersions

__all__ = ["StreamClaim"]


class StreamClaim:
    """What one append needs of its stream, worked out from the append alone.

    Args:
        stream_id: The stream appended to.
        versioning: The append's versioning, as ``EventStore`` passes it to the storage.
        events: The append's events, in order (at least one).

    Attributes:
        expected_version: The version the append was given; ``None`` for ``NO_VERSIONING``.
        version: The version the stream must be at for the append to claim it (0: new);
            ``None`` for an unversioned append.
        new_version: The stream's version once the append is written; ``None`` when unversioned.
        versions_continue: Whether the events' versions are right without looking at the
            stream: ``expected_version + 1, + 2, ...``; for ``expected_version=0`` any run of
            consecutive versions from 1 up; ``None`` for every event when unversioned.
    """

    def __init__(
        self, stream_id: StreamId, versioning: Versioning, events: Sequence[RawEvent]
    ) -> None:
        self.stream_id = stream_id
        self.versioning = versioning
        self.versions = tuple(event.version for event in events)
        self.expected_version = None if versioning is NO_VERSIONING else versioning.expected_version
        self.version = self.expected_version
        self.new_version = None if versioning is NO_VERSIONING else self.versions[-1]
        if self.expected_version is None:
            self.versions_continue = all(v is None for v in self.versions)
        elif self.expected_version == 0:
            first = self.versions[0]
            self.versions_continue = (
                isinstance(first, int) and first >= 1 and _run_from(first, self.versions)
            )
            if self.versions_continue:
                self.version = first - 1  # type: ignore[operator]  # first is an int here
        else:
            self.versions_continue = _run_from(self.expected_version + 1, self.versions)

    @property
    def unchecked(self) -> bool:
        """Whether the append gave no expected version (``expected_version=0``)."""
        return self.expected_version == 0

    def conflict(self, exists: bool, stream_version: int | None) -> EventStoreException | None:
        """The error that stops the append at a stream in this state, before anything else.

        Args:
            exists: Whether the stream exists.
            stream_version: Its version (``None`` when unversioned); ignored when missing.

        Returns:
            A ``VersioningMismatch`` when versioned and unversioned appends are mixed, or a
            ``ConcurrentStreamWriteError`` when the stream is not at the expected version (an
            append with ``expected_version=0``: when the stream is already past the version
            its events continue); ``None`` when neither applies.
        """
        if exists:
            try:
                self.versioning.validate_if_compatible(stream_version)
            except EventStoreException as mismatch:
                return mismatch
        if self.expected_version is None:
            return None
        current = (stream_version or 0) if exists else 0
        if self.unchecked:
            if self.versions_continue and current > self.version:  # type: ignore[operator]
                return ConcurrentStreamWriteError(current, self.version)
            return None
        if current != self.expected_version:
            return ConcurrentStreamWriteError(
                stream_version if exists else None, self.expected_version
            )
        return None

    def version_error(
        self, exists: bool, stream_version: int | None
    ) -> InvalidEventVersions | None:
        """The error for versions that do not continue a stream in this state, if any.

        Call it once :meth:`conflict` found nothing and no event uuid is already stored.
        """
        current = (stream_version or 0) if exists else 0
        if self.versions_continue and (not self.unchecked or current == self.version):
            return None
        return InvalidEventVersions(
            self.stream_id,
            self.expected_version,
            self.versions,
            current if self.unchecked else None,
        )


def _run_from(first: int, versions: tuple[int | None, ...]) -> bool:
    return versions == tuple(range(first, first + len(versions)))
