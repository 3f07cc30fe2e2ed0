"""The in-memory outbox table: the entries that ``Outbox.run`` and the relay both hand out.

The rules are the Django adapter's, so that the contract kit holds both adapters to them. An
entry is *due* when it is not dead, its retry time (if any) has come and no relay holds it under
an unexpired lease. An entry is *alive* until it is acknowledged (removed) or dead; a stream is
*held* while one of its alive entries is not due (leased, or waiting for a retry). A claim takes
the oldest due entries of streams that are not held: of each stream a run of consecutive
entries, starting at its oldest alive one.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable
from datetime import UTC, datetime
from uuid import UUID

from event_sourcery.event import RecordedRaw

from eventhex_core_ports.ports.relay import OutboxMessage

__all__ = ["OutboxRow", "OutboxTable"]

StreamKey = tuple[str, str, UUID]


@dataclasses.dataclass
class OutboxRow:
    """One entry: the record to publish and its delivery bookkeeping."""

    entry_id: int
    record: RecordedRaw
    max_attempts: int
    enqueued_at: datetime
    attempts: int = 0
    last_error: str = ""
    dead: bool = False
    next_attempt_at: datetime | None = None
    claimed_by: str | None = None
    claimed_until: datetime | None = None

    @property
    def stream(self) -> StreamKey:
        """(tenant, category, uuid): the stream whose order the entry keeps."""
        stream_id = self.record.entry.stream_id
        return (self.record.tenant_id, stream_id.category or "", UUID(int=stream_id.int))

    def due(self, now: datetime) -> bool:
        """Not dead, not waiting for a retry and not under an unexpired lease."""
        waiting = self.next_attempt_at is not None and self.next_attempt_at > now
        leased = self.claimed_until is not None and self.claimed_until > now
        return not (self.dead or waiting or leased)

    def fail(self, error: str, *, dead: bool) -> None:
        """Count a failed attempt, keep ``error`` and give the entry back."""
        self.attempts += 1
        self.last_error = error
        self.dead = dead
        self.claimed_by = None
        self.claimed_until = None

    def message(self) -> OutboxMessage:
        """The entry as a relay sees it."""
        event = self.record.entry
        created_at = event.created_at
        aware = created_at.replace(tzinfo=UTC) if created_at.tzinfo is None else created_at
        return OutboxMessage(
            entry_id=self.entry_id,
            event_uuid=event.uuid,
            event_name=event.name,
            stream_uuid=self.stream[2],
            stream_name=event.stream_id.name,
            stream_category=self.stream[1],
            tenant_id=self.record.tenant_id,
            version=event.version,
            position=self.record.position,
            created_at=aware.astimezone(UTC),
            data=dict(event.data),
            context=dict(event.context),
            attempts=self.attempts,
            max_attempts=self.max_attempts,
            last_error=self.last_error,
        )


class OutboxTable:
    """Entries by id, in id order. Callers hold the store's lock."""

    def __init__(self) -> None:
        self.rows: dict[int, OutboxRow] = {}
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        return len(self.rows)

    def add(
        self, records: Iterable[RecordedRaw], max_attempts: int, now: datetime
    ) -> list[OutboxRow]:
        """Enter ``records``, each as a new entry with ``max_attempts``; returns the entries."""
        added = []
        for record in records:
            row = OutboxRow(next(self._ids), record, max_attempts, enqueued_at=now)
            self.rows[row.entry_id] = row
            added.append(row)
        return added

    def remove(self, entry_ids: Iterable[int]) -> int:
        """Delete entries; returns how many there were."""
        return sum(self.rows.pop(entry_id, None) is not None for entry_id in entry_ids)

    def claimable(self, now: datetime, limit: int) -> list[OutboxRow]:
        """The oldest ``limit`` due entries of streams that no entry holds (leased, or waiting
        for a retry): of each stream a run of consecutive entries, from its oldest live one."""
        held = {row.stream for row in self.rows.values() if not row.dead and not row.due(now)}
        due = (row for row in self.rows.values() if row.due(now) and row.stream not in held)
        return list(itertools.islice(due, limit))  # insertion order is id order

    def snapshot(self) -> dict[int, OutboxRow]:
        """The entries as they are, for :meth:`restore` (rows added later are not in it)."""
        return dict(self.rows)

    def restore(self, rows: dict[int, OutboxRow]) -> None:
        """Go back to a :meth:`snapshot`."""
        self.rows = rows
