"""In-memory ``StorageStrategy``: the reference every adapter is compared with."""

from dataclasses import dataclass, replace
from typing import Self

from event_sourcery import StreamId
from event_sourcery.event import Position, RawEvent, RecordedRaw
from event_sourcery.exceptions import AnotherStreamWithThisNameButOtherIdExists
from event_sourcery.in_transaction import Dispatcher
from event_sourcery.interfaces import StorageStrategy, Versioning

from eventhex_core_ports._internal.stream_claim import StreamClaim
from eventhex_core_ports._internal.validation import (
    DEFAULT_MAX_APPEND_BYTES,
    DEFAULT_MAX_APPEND_EVENTS,
    DEFAULT_MAX_EVENT_BYTES,
    check_event,
    check_events,
    check_stream_id,
    check_tenant_id,
)
from eventhex_core_ports.errors import (
    DuplicateEventUuid,
)
from eventhex_core_ports.in_memory._store import InMemoryStore, StreamKey, StreamState
from eventhex_core_ports.in_memory.outbox import InMemoryOutboxStorageStrategy

__all__ = ["InMemoryStorageStrategy"]


@dataclass(frozen=True)
class InMemoryStorageStrategy(StorageStrategy):
    """Streams kept in an ``InMemoryStore``, scoped to one tenant.

    Identifiers and payloads are checked by :mod:`eventhex_core_ports._internal.validation` exactly
    as every other adapter checks them, before anything changes. An append whose event uuid is
    already stored (in any stream or tenant of the store) raises ``DuplicateEventUuid`` after
    the versioning checks, and one whose event versions do not continue the stream raises
    ``InvalidEventVersions`` after both; either changes nothing.
    """

    store: InMemoryStore
    dispatcher: Dispatcher
    outbox: InMemoryOutboxStorageStrategy | None = None
    tenant_id: str = ""
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    max_append_bytes: int = DEFAULT_MAX_APPEND_BYTES
    max_append_events: int = DEFAULT_MAX_APPEND_EVENTS

    def __post_init__(self) -> None:
        check_tenant_id(self.tenant_id)

    def _key(self, stream_id: StreamId) -> StreamKey:
        return (self.tenant_id, stream_id.category or "", stream_id)

    def fetch_events(
        self, stream_id: StreamId, start: int | None = None, stop: int | None = None
    ) -> list[RawEvent]:
        check_stream_id(stream_id)
        with self.store.changed:
            stream = self.store.streams.get(self._key(stream_id))
            if stream is None:
                return []
            if stream.version is None:  # unversioned: the range counts events, 1-based
                events = [r.entry for r in stream.events][(start or 1) - 1 : stop and stop - 1]
            else:
                events = [r.entry for r in stream.events if _in_range(r.entry.version, start, stop)]
            snapshot = None
            for candidate in stream.snapshots:  # the highest version; the later save on a tie
                if _in_range(candidate.version, start, stop) and (
                    snapshot is None or (candidate.version or 0) >= (snapshot.version or 0)
                ):
                    snapshot = candidate
        if snapshot is None:
            return events
        newer = [e for e in events if (e.version or 0) > (snapshot.version or 0)]
        return [snapshot, *newer]

    def insert_events(
        self, stream_id: StreamId, versioning: Versioning, events: list[RawEvent]
    ) -> None:
        check_stream_id(stream_id)
        check_events(
            events,
            self.max_event_bytes,
            self.max_append_bytes,
            self.max_append_events,
            checked_stream_id=stream_id,
        )
        with self.store.transaction():
            claim = StreamClaim(stream_id, versioning, events)
            stream = self._stream_for_append(stream_id, claim)
            stored = [event.uuid for event in events if event.uuid in self.store.event_uuids]
            if stored:
                raise DuplicateEventUuid(stored, stream_id, already_stored=True)
            found = stream is not None
            version_error = claim.version_error(found, stream.version if stream else None)
            if version_error is not None:
                raise version_error
            if stream is None:
                stream = self.store.streams[self._key(stream_id)] = StreamState(
                    name=stream_id.name, version=None
                )
            self.store.event_uuids.update(event.uuid for event in events)
            records = []
            for event in events:
                self.store.last_position += 1
                records.append(
                    RecordedRaw(
                        entry=event, position=self.store.last_position, tenant_id=self.tenant_id
                    )
                )
            stream.events.extend(records)
            self.store.log.extend(records)
            stream.version = claim.new_version
            if stream.name is None:
                stream.name = stream_id.name
            if self.outbox is not None:
                self.outbox.put_into_outbox(records)
            self.dispatcher.dispatch(*records)

    def _stream_for_append(self, stream_id: StreamId, claim: StreamClaim) -> StreamState | None:
        """The stream ``claim`` appends to (``None``: not created yet), or the error that stops it.

        Raises:
            AnotherStreamWithThisNameButOtherIdExists: The stream is missing and its name
                belongs to another stream of the same tenant and category.
        """
        key = self._key(stream_id)
        stream = self.store.streams.get(key)
        if stream is None and stream_id.name is not None:
            tenant, category, _ = key
            for (other_tenant, other_category, uuid), other in self.store.streams.items():
                if (other_tenant, other_category, other.name) == (tenant, category, stream_id.name):
                    raise AnotherStreamWithThisNameButOtherIdExists(
                        f"Stream name {stream_id.name!r} already belongs to stream {uuid}, not "
                        f"{stream_id}. Build the StreamId with the same uuid (or the same "
                        "StreamId class and name) as the stream that holds the name."
                    )
        conflict = claim.conflict(stream is not None, stream.version if stream else None)
        if conflict is not None:
            raise conflict
        return stream

    def save_snapshot(self, snapshot: RawEvent) -> None:
        check_event(snapshot, self.max_event_bytes)
        with self.store.transaction():
            key = self._key(snapshot.stream_id)
            stream = self.store.streams.get(key)
            if stream is None:
                stream = StreamState(name=snapshot.stream_id.name, version=snapshot.version)
                self.store.streams[key] = stream
            elif stream.version is not None and stream.version < (snapshot.version or 0):
                stream.version = snapshot.version  # a snapshot ahead of the stream moves it on
            stream.snapshots.append(snapshot)

    def delete_stream(self, stream_id: StreamId) -> None:
        check_stream_id(stream_id)
        with self.store.transaction():
            stream = self.store.streams.pop(self._key(stream_id), None)
            if stream is not None:
                deleted = {id(r) for r in stream.events}
                self.store.log = [r for r in self.store.log if id(r) not in deleted]
                self.store.event_uuids.difference_update(r.entry.uuid for r in stream.events)

    @property
    def current_position(self) -> Position | None:
        return self.store.last_position

    def scoped_for_tenant(self, tenant_id: str) -> Self:
        return replace(self, tenant_id=tenant_id)


def _in_range(version: int | None, start: int | None, stop: int | None) -> bool:
    if version is None:
        return True
    return (start is None or version >= start) and (stop is None or version < stop)
