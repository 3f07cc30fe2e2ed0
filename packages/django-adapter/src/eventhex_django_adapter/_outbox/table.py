"""The outbox table, ``eventhex_outboxentry``: the statements ``Outbox.run`` and the relay share.

The rules (the in-memory adapter's outbox table keeps the same ones):

- An entry is *alive* until it is deleted (published) or dead; it is *due* when it is not dead,
  its retry time (if any) has come and no lease on it runs (``claimed_until`` unset or passed).
- A stream is *held* while one of its live entries is not due: leased to a relay or waiting for
  a retry. Nothing of a held stream is claimed.
- A claim takes the oldest ``limit`` due entries of streams that are not held. Of each stream
  it thus takes a run: its oldest live entry (the head) and the entries right after it.
  ``Outbox.run`` locks such a claim for its transaction; a relay stamps it with a lease.

On PostgreSQL both claims go through ``eventhex_outbox_due`` (``outbox_due.sql``): entries locked
with ``FOR UPDATE SKIP LOCKED``, a stream's entries only by the claim that locked its head, the
plan fixed whatever the statistics say (ADR 0006). SQLite has one writer at a time, so an ORM
query states the same rule.
"""

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.db.models import CharField, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Cast
from django.utils import timezone

from eventhex_django_adapter._codec import json_text
from eventhex_django_adapter._db import driver_is_psycopg3, fetch, reports_unmigrated
from eventhex_django_adapter._outbox.rows import COLUMNS, SELECT_LIST
from eventhex_django_adapter.models import OutboxEntry

__all__ = ["CLAIM_SQL", "LOCK_SQL", "OutboxTable", "row_values"]

_CLAIMABLE = "o.id = ANY(ARRAY(SELECT eventhex_outbox_due(%(now)s, %(limit)s)))"

LOCK_SQL = f"SELECT {SELECT_LIST} FROM eventhex_outboxentry o WHERE {_CLAIMABLE} ORDER BY o.id"
"""``Outbox.run``'s claim: the rows, locked until the caller's transaction ends."""

CLAIM_SQL = f"""UPDATE eventhex_outboxentry o SET claimed_by = %(owner)s, claimed_until = %(until)s
WHERE {_CLAIMABLE} RETURNING {SELECT_LIST}"""
"""A relay's claim: the rows, leased to ``owner`` until ``until``."""

_DELETE_SQL = "DELETE FROM eventhex_outboxentry WHERE id = ANY(%s)"

_HELD = Q(dead=False) & (Q(next_attempt_at__isnull=False) | Q(claimed_until__isnull=False))
"""``eventhex_outbox_retry_idx``'s condition: alive, and leased or retried at some point."""


class OutboxTable:
    """The outbox rows of one database.

    Args:
        database: The ``settings.DATABASES`` alias holding the table.
        prepared_statements: Whether PostgreSQL claims run as prepared statements (see ``_db``).
    """

    def __init__(self, database: str = "default", prepared_statements: bool = True) -> None:
        self.database = database
        self._prepared_statements = prepared_statements
        self._lock = threading.Lock()
        self._last_until: datetime | None = None

    @property
    def postgres(self) -> bool:
        """Whether the database is PostgreSQL."""
        return connections[self.database].vendor == "postgresql"

    def rows(self) -> QuerySet[OutboxEntry]:
        """Every row, as a query set."""
        return OutboxEntry.objects.using(self.database)

    @staticmethod
    def stored(instant: datetime) -> datetime:
        """How a bookkeeping column stores the aware ``instant`` under ``USE_TZ`` (naive local
        time when it is off, as Django does)."""
        if settings.USE_TZ:
            return instant.astimezone(UTC)
        return timezone.make_naive(instant, timezone.get_default_timezone())

    @reports_unmigrated
    def lock_claim(self, limit: int) -> list[tuple[Any, ...]]:
        """``Outbox.run``'s claim (see the module docstring), locked until the transaction ends;
        call it inside ``transaction.atomic``."""
        now = datetime.now(UTC)
        if self.postgres:
            return self._fetch(LOCK_SQL, {"now": now, "limit": limit})
        return row_values(self._claimable(self.stored(now)), limit)

    @reports_unmigrated
    def lease_claim(self, owner: str, limit: int, lease: timedelta) -> list[tuple[Any, ...]]:
        """A relay's claim (see the module docstring) for ``owner`` until ``lease`` from now, in
        id order."""
        now = datetime.now(UTC)
        until = self._lease_end(now + lease)
        if self.postgres:
            params = {"now": now, "limit": limit, "owner": owner, "until": until}
            return sorted(self._fetch(CLAIM_SQL, params), key=lambda row: row[0])
        ids = self._claimable(self.stored(now)).values("id")[:limit]
        with transaction.atomic(using=self.database):
            stamped = self.rows().filter(id__in=Subquery(ids))
            if not stamped.update(claimed_by=owner, claimed_until=self.stored(until)):
                return []
            mine = self.rows().filter(claimed_by=owner, claimed_until=self.stored(until))
            return row_values(mine.order_by("id"))

    def _lease_end(self, until: datetime) -> datetime:
        with self._lock:  # unique per claim, so a claim on SQLite finds its own rows again
            if self._last_until is not None and until <= self._last_until:
                until = self._last_until + timedelta(microseconds=1)
            self._last_until = until
        return until

    def _fetch(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        binary = driver_is_psycopg3()
        rows = fetch(self.database, sql, params, binary, self._prepared_statements)
        if binary and not settings.USE_TZ:  # aware in the zone whose wall clock Django stored
            return [(*row[:9], row[9].replace(tzinfo=None), *row[10:]) for row in rows]
        return rows

    def _claimable(self, now: datetime) -> QuerySet[OutboxEntry]:
        """Due rows of streams that hold nothing back, oldest first (SQLite)."""
        holding = self.rows().filter(
            _HELD,
            Q(next_attempt_at__gt=now) | Q(claimed_until__gt=now),
            tenant_id=OuterRef("tenant_id"),
            stream_category=OuterRef("stream_category"),
            stream_uuid=OuterRef("stream_uuid"),
        )
        due = (
            Q(dead=False)
            & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            & (Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        )
        return self.rows().filter(due).exclude(Exists(holding)).order_by("id")

    def delete(self, entry_ids: Sequence[int]) -> int:
        """Delete published rows; returns how many there were."""
        if not entry_ids:
            return 0
        if self.postgres:  # one statement, one array parameter, no ORM collector
            with connections[self.database].cursor() as cursor:
                cursor.execute(_DELETE_SQL, [list(entry_ids)])
                return int(cursor.rowcount)
        deleted, _ = self.rows().filter(id__in=list(entry_ids)).delete()
        return deleted

    def fail(
        self,
        entry_id: int,
        error: str,
        *,
        dead: bool,
        holder: str | None = None,
        retry_at: datetime | None = None,
    ) -> bool:
        """Charge a failed attempt to a live row, keep ``error``, kill it when ``dead``, and end
        its lease; only while ``holder`` (when given) holds it.

        Returns:
            Whether the row was there (and held by ``holder``).
        """
        row = self.rows().filter(id=entry_id, dead=False)
        if holder is not None:
            row = row.filter(claimed_by=holder)
        changes: dict[str, Any] = {"claimed_by": None, "claimed_until": None}
        if retry_at is not None:
            changes["next_attempt_at"] = self.stored(retry_at)
        return bool(row.update(attempts=F("attempts") + 1, last_error=error, dead=dead, **changes))

    def release(self, owner: str, entry_ids: Sequence[int] | None = None) -> int:
        """End ``owner``'s leases on live rows (all of them when ``entry_ids`` is None)."""
        held = self.rows().filter(claimed_by=owner, dead=False)
        if entry_ids is not None:
            held = held.filter(id__in=list(entry_ids))
        return held.update(claimed_by=None, claimed_until=None)


def row_values(entries: QuerySet[OutboxEntry], limit: int | None = None) -> list[tuple[Any, ...]]:
    """Rows in ``COLUMNS`` order, uuids and JSON as text so a damaged value reaches the decoder
    (which dead-letters that row alone) instead of failing the query."""
    as_text: dict[str, Any] = {
        f"{name}_text": Cast(name, CharField()) for name in ("event_uuid", "stream_uuid")
    }
    as_text.update({f"{name}_text": json_text(name) for name in ("data", "context")})
    columns = [f"{c}_text" if f"{c}_text" in as_text else c for c in COLUMNS]
    return list(entries.annotate(**as_text).values_list(*columns)[:limit])
