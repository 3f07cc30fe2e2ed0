"""An in-memory :class:`OutboxSource`: the reference implementation the relay tests run on."""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from eventhex_core_ports.ports.relay import OutboxMessage, OutboxSource, OutboxStats

__all__ = ["InMemoryOutboxSource"]


@dataclasses.dataclass
class _Entry:
    message: OutboxMessage
    enqueued_at: datetime
    dead: bool = False
    next_attempt_at: datetime | None = None
    claimed_by: str | None = None
    claimed_until: datetime | None = None

    @property
    def stream(self) -> tuple[str, str, UUID]:
        m = self.message
        return (m.tenant_id, m.stream_category, m.stream_uuid)


class InMemoryOutboxSource(OutboxSource):
    """A thread-safe outbox in a dict, fed by :meth:`enqueue`.

    Args:
        clock: Returns the current time (aware, UTC); tests pass a fake one to move time.
    """

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self._entries: dict[int, _Entry] = {}
        self._ids = itertools.count(1)
        self._changed = threading.Condition()

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
        """Add an entry as an append would, and wake waiting relays.

        Returns:
            The message as a claim will hand it out.
        """
        with self._changed:
            entry_id = next(self._ids)
            now = self._clock()
            message = OutboxMessage(
                entry_id=entry_id,
                event_uuid=event_uuid or uuid4(),
                event_name=event_name,
                stream_uuid=stream_uuid or uuid4(),
                stream_name=stream_name,
                stream_category=stream_category,
                tenant_id=tenant_id,
                version=version,
                position=entry_id,
                created_at=now,
                data=dict(data or {}),
                context=dict(context or {}),
                max_attempts=max_attempts,
            )
            self._entries[entry_id] = _Entry(message=message, enqueued_at=now)
            self._changed.notify_all()
            return message

    def claim(self, owner: str, limit: int, lease: timedelta) -> list[OutboxMessage]:
        """See :meth:`OutboxSource.claim`."""
        with self._changed:
            now = self._clock()
            blocked: set[tuple[str, str, UUID]] = set()
            claimed: list[OutboxMessage] = []
            for entry_id in sorted(self._entries):
                entry = self._entries[entry_id]
                if entry.dead:
                    continue
                if entry.stream in blocked:
                    continue
                blocked.add(entry.stream)
                if len(claimed) < limit and self._due(entry, now):
                    entry.claimed_by = owner
                    entry.claimed_until = now + lease
                    claimed.append(entry.message)
            return claimed

    @staticmethod
    def _due(entry: _Entry, now: datetime) -> bool:
        leased = entry.claimed_until is not None and entry.claimed_until > now
        waiting = entry.next_attempt_at is not None and entry.next_attempt_at > now
        return not leased and not waiting

    def acknowledge(self, entry_ids: Sequence[int]) -> int:
        """See :meth:`OutboxSource.acknowledge`."""
        with self._changed:
            removed = [self._entries.pop(i, None) for i in entry_ids]
            self._changed.notify_all()
            return sum(entry is not None for entry in removed)

    def _held(self, owner: str, entry_id: int) -> _Entry | None:
        entry = self._entries.get(entry_id)
        if entry is None or entry.dead or entry.claimed_by != owner:
            return None
        return entry

    def _fail(self, entry: _Entry, error: str) -> None:
        entry.message = dataclasses.replace(
            entry.message, attempts=entry.message.attempts + 1, last_error=error
        )
        entry.claimed_by = None
        entry.claimed_until = None

    def retry_later(self, owner: str, entry_id: int, error: str, next_attempt_at: datetime) -> bool:
        """See :meth:`OutboxSource.retry_later`."""
        with self._changed:
            entry = self._held(owner, entry_id)
            if entry is None:
                return False
            self._fail(entry, error)
            entry.next_attempt_at = next_attempt_at
            return True

    def dead_letter(self, owner: str, entry_id: int, error: str) -> bool:
        """See :meth:`OutboxSource.dead_letter`."""
        with self._changed:
            entry = self._held(owner, entry_id)
            if entry is None:
                return False
            self._fail(entry, error)
            entry.dead = True
            self._changed.notify_all()
            return True

    def release(self, owner: str, entry_ids: Sequence[int] | None = None) -> int:
        """See :meth:`OutboxSource.release`."""
        with self._changed:
            wanted = self._entries.keys() if entry_ids is None else entry_ids
            released = 0
            for entry_id in list(wanted):
                entry = self._held(owner, entry_id)
                if entry is not None:
                    entry.claimed_by = None
                    entry.claimed_until = None
                    released += 1
            self._changed.notify_all()
            return released

    def wait_for_entries(self, timeout: float) -> bool:
        """See :meth:`OutboxSource.wait_for_entries`."""
        with self._changed:
            return self._changed.wait(timeout)

    def stats(self) -> OutboxStats:
        """See :meth:`OutboxSource.stats`."""
        with self._changed:
            now = self._clock()
            live = [e for e in self._entries.values() if not e.dead]
            in_flight = sum(e.claimed_until is not None and e.claimed_until > now for e in live)
            oldest = min((e.enqueued_at for e in live), default=None)
            return OutboxStats(
                pending=len(live) - in_flight,
                in_flight=in_flight,
                dead=len(self._entries) - len(live),
                oldest_age=None if oldest is None else max(now - oldest, timedelta(0)),
            )

    def dead_letters(self, limit: int = 100, after_id: int = 0) -> list[OutboxMessage]:
        """See :meth:`OutboxSource.dead_letters`."""
        with self._changed:
            ids = sorted(i for i, e in self._entries.items() if e.dead and i > after_id)
            return [self._entries[i].message for i in ids[:limit]]

    def _dead_ids(self, entry_ids: Sequence[int] | None) -> list[int]:
        wanted = self._entries.keys() if entry_ids is None else entry_ids
        return [i for i in wanted if i in self._entries and self._entries[i].dead]

    def replay_dead_letters(self, entry_ids: Sequence[int] | None = None) -> int:
        """See :meth:`OutboxSource.replay_dead_letters`."""
        with self._changed:
            ids = self._dead_ids(entry_ids)
            for entry_id in ids:
                entry = self._entries[entry_id]
                entry.dead = False
                entry.next_attempt_at = None
                entry.message = dataclasses.replace(entry.message, attempts=0)
            self._changed.notify_all()
            return len(ids)

    def purge_dead_letters(self, entry_ids: Sequence[int] | None = None) -> int:
        """See :meth:`OutboxSource.purge_dead_letters`."""
        with self._changed:
            ids = self._dead_ids(entry_ids)
            for entry_id in ids:
                del self._entries[entry_id]
            return len(ids)
