"""An in-memory :class:`OutboxSource`: the relay's view of an in-memory store's outbox.

It reads the table that appends with an outbox write (:class:`InMemoryOutboxStorageStrategy`),
so a relay drains what ``backend.outbox.run`` would, under the same rules: a claim takes of each
stream a run of consecutive entries and skips the streams that have an entry leased or waiting
for a retry, and what one side fails or kills the other sees. The relay tests run on
it, fed by :meth:`InMemoryOutboxSource.enqueue`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from event_sourcery import StreamId
from event_sourcery.event import RawEvent, RecordedRaw

from eventhex_core_ports.in_memory._outbox_table import OutboxRow
from eventhex_core_ports.in_memory._store import InMemoryStore
from eventhex_core_ports.ports.relay import OutboxMessage, OutboxSource, OutboxStats

__all__ = ["InMemoryOutboxSource"]


class InMemoryOutboxSource(OutboxSource):
    """A thread-safe relay source over an :class:`InMemoryStore`'s outbox.

    ``InMemoryBackend().container.relay_source()`` gives the one that drains a backend's outbox.

    Args:
        store: The store whose outbox is drained (a new, empty one when omitted).
        clock: Returns the current time (aware, UTC) for claims, leases and statistics; the
            store's clock when omitted. Tests pass a fake one to move time.
    """

    def __init__(
        self, store: InMemoryStore | None = None, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._store = store or InMemoryStore()
        self._clock = clock or self._store.clock
        self._changed = self._store.changed

    def enqueue(
        self,
        *,
        data: Mapping[str, Any] | None = None,
        event_name: str = "Something",
        stream_uuid: UUID | None = None,
        stream_name: str | None = None,
        stream_category: str = "",
        tenant_id: str = "",
        version: int | None = None,
        context: Mapping[str, Any] | None = None,
        max_attempts: int = 3,
        event_uuid: UUID | None = None,
    ) -> OutboxMessage:
        """Add an entry as an append with an outbox would (without storing the event in a
        stream), and wake waiting relays.

        Returns:
            The message as a claim will hand it out.
        """
        category = stream_category or None
        stream_id = (
            StreamId(name=stream_name, category=category)
            if stream_uuid is None
            else StreamId(uuid=stream_uuid, name=stream_name, category=category)
        )
        with self._changed:
            now = self._clock()
            self._store.last_position += 1
            event = RawEvent(
                uuid=event_uuid or uuid4(),
                stream_id=stream_id,
                created_at=now.astimezone(UTC).replace(tzinfo=None),
                name=event_name,
                data=dict(data or {}),
                context=dict(context or {}),
                version=version,
            )
            record = RecordedRaw(
                entry=event, position=self._store.last_position, tenant_id=tenant_id
            )
            [row] = self._store.outbox.add([record], max_attempts, now)
            self._changed.notify_all()
            return row.message()

    def peek(self, entry_id: int) -> OutboxMessage | None:
        """The entry as it stands (attempts, last error), without claiming it; None once it
        was acknowledged or purged. Tests read a failed entry's bookkeeping with it."""
        with self._changed:
            row = self._store.outbox.rows.get(entry_id)
            return None if row is None else row.message()

    def claim(self, owner: str, limit: int, lease: timedelta) -> list[OutboxMessage]:
        """See :meth:`OutboxSource.claim`."""
        with self._changed:
            now = self._clock()
            claimed = self._store.outbox.claimable(now, limit)
            for row in claimed:
                row.claimed_by = owner
                row.claimed_until = now + lease
            return [row.message() for row in claimed]

    def acknowledge(self, entry_ids: Sequence[int]) -> int:
        """See :meth:`OutboxSource.acknowledge`."""
        with self._changed:
            removed = self._store.outbox.remove(entry_ids)
            self._changed.notify_all()
            return removed

    def _held(self, owner: str, entry_id: int) -> OutboxRow | None:
        row = self._store.outbox.rows.get(entry_id)
        if row is None or row.dead or row.claimed_by != owner:
            return None
        return row

    def retry_later(self, owner: str, entry_id: int, error: str, next_attempt_at: datetime) -> bool:
        """See :meth:`OutboxSource.retry_later`."""
        with self._changed:
            row = self._held(owner, entry_id)
            if row is None:
                return False
            row.fail(error, dead=False)
            row.next_attempt_at = next_attempt_at
            return True

    def dead_letter(self, owner: str, entry_id: int, error: str) -> bool:
        """See :meth:`OutboxSource.dead_letter`."""
        with self._changed:
            row = self._held(owner, entry_id)
            if row is None:
                return False
            row.fail(error, dead=True)
            self._changed.notify_all()
            return True

    def release(self, owner: str, entry_ids: Sequence[int] | None = None) -> int:
        """See :meth:`OutboxSource.release`."""
        with self._changed:
            rows = self._store.outbox.rows
            wanted = list(rows) if entry_ids is None else entry_ids
            released = 0
            for entry_id in wanted:
                row = self._held(owner, entry_id)
                if row is not None:
                    row.claimed_by = None
                    row.claimed_until = None
                    released += 1
            self._changed.notify_all()
            return released

    def wait_for_entries(self, timeout: float) -> bool:
        """See :meth:`OutboxSource.wait_for_entries`: woken by every commit to the store."""
        with self._changed:
            return self._changed.wait(timeout)

    def stats(self) -> OutboxStats:
        """See :meth:`OutboxSource.stats`."""
        with self._changed:
            now = self._clock()
            rows = self._store.outbox.rows.values()
            alive = [row for row in rows if not row.dead]
            in_flight = sum(
                row.claimed_until is not None and row.claimed_until > now for row in alive
            )
            oldest = min((row.enqueued_at for row in alive), default=None)
            return OutboxStats(
                pending=len(alive) - in_flight,
                in_flight=in_flight,
                dead=len(rows) - len(alive),
                oldest_age=None if oldest is None else max(now - oldest, timedelta(0)),
            )

    def dead_letters(self, limit: int = 100, after_id: int = 0) -> list[OutboxMessage]:
        """See :meth:`OutboxSource.dead_letters`."""
        with self._changed:
            rows = self._store.outbox.rows
            ids = sorted(i for i, row in rows.items() if row.dead and i > after_id)
            return [rows[i].message() for i in ids[:limit]]

    def _dead(self, entry_ids: Sequence[int] | None) -> list[OutboxRow]:
        rows = self._store.outbox.rows
        wanted = list(rows) if entry_ids is None else entry_ids
        return [rows[i] for i in wanted if i in rows and rows[i].dead]

    def replay_dead_letters(self, entry_ids: Sequence[int] | None = None) -> int:
        """See :meth:`OutboxSource.replay_dead_letters`."""
        with self._changed:
            rows = self._dead(entry_ids)
            for row in rows:
                row.dead = False
                row.attempts = 0
                row.next_attempt_at = None
            self._changed.notify_all()
            return len(rows)

    def purge_dead_letters(self, entry_ids: Sequence[int] | None = None) -> int:
        """See :meth:`OutboxSource.purge_dead_letters`."""
        with self._changed:
            return self._store.outbox.remove(row.entry_id for row in self._dead(entry_ids))
