"""``DjangoOutboxSource``: the outbox relay's source on the ``eventhex_outboxentry`` table.

Claims take one short transaction. On PostgreSQL a single statement picks due rows with
``FOR UPDATE SKIP LOCKED`` (concurrent relays skip each other's rows instead of waiting; the
pick is migration 0004's ``eventhex_outbox_due``, whose cost does not grow with the backlog) and
stamps them with the claimer and the lease end; on SQLite, where one writer holds the database
at a time, one ``UPDATE ... WHERE id IN (subquery)`` does the same. Per-stream order lives in the
claim's condition: a row is due only if no earlier row of its stream (tenant, category, uuid) is
still alive, that is, not acknowledged (deleted) and not dead. A claim thus holds at most one row
per stream, and that holds whatever the other relays are doing, because it depends on rows
existing, not on their leases.

Relays wake on ``LISTEN eventhex_outbox`` on PostgreSQL (migration 0003 installs the trigger) and
poll elsewhere. :func:`outbox_source` is the ``django`` entry point of the
``eventhex.outbox_sources`` group that ``eventhex-relay --source django`` loads.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import CharField, Count, Exists, F, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Cast
from django.utils import timezone

from eventhex_core_ports.ports.relay import OutboxMessage, OutboxSource, OutboxStats
from eventhex_django_adapter._outbox_rows import (
    COLUMNS,
    CorruptOutboxRow,
    dead_letter_from_row,
    decode_json_columns,
    message_from_row,
)

if TYPE_CHECKING:
    from eventhex_django_adapter.models import OutboxEntry

__all__ = ["CHANNEL", "DjangoOutboxSource", "outbox_source"]

CHANNEL = "eventhex_outbox"

logger = logging.getLogger("eventhex.relay.django")

_PG_CLAIM = """
UPDATE eventhex_outboxentry AS e SET claimed_by = %(owner)s, claimed_until = %(until)s
WHERE e.id = ANY(ARRAY(SELECT eventhex_outbox_due(%(now)s, %(limit)s, true)))
RETURNING e.id, e.event_uuid, e.event_name, e.stream_uuid, e.stream_name, e.stream_category,
    e.tenant_id, e.version, e.position::text, e.created_at::text, e.data::text, e.context::text,
    e.attempts, e.max_attempts, e.last_error
"""

_PG_ACKNOWLEDGE = "DELETE FROM eventhex_outboxentry WHERE id = ANY(%s)"


class DjangoOutboxSource(OutboxSource):
    """The relay's view of the outbox table of one database.

    Args:
        database: The ``settings.DATABASES`` alias holding the eventhex tables.
        channel: The NOTIFY channel of migration 0003 (PostgreSQL only).
    """

    def __init__(self, database: str = "default", channel: str = CHANNEL) -> None:
        self.database = database
        self.channel = channel
        self._listener: Any = None
        self._lock = threading.Lock()
        self._last_until: datetime | None = None

    @property
    def _postgres(self) -> bool:
        return connections[self.database].vendor == "postgresql"

    def _entries(self) -> QuerySet[OutboxEntry]:
        from eventhex_django_adapter.models import OutboxEntry  # importable once Django is set up

        return OutboxEntry.objects.using(self.database)

    @staticmethod
    def _to_db(value: datetime) -> datetime:
        if settings.USE_TZ:
            return value.astimezone(UTC)
        return timezone.make_naive(value, timezone.get_default_timezone())

    def _lease_end(self, now: datetime, lease: timedelta) -> datetime:
        until = now + lease
        with self._lock:  # unique per claim, so a claim can find its own rows again
            if self._last_until is not None and until <= self._last_until:
                until = self._last_until + timedelta(microseconds=1)
            self._last_until = until
        return until

    def claim(self, owner: str, limit: int, lease: timedelta) -> list[OutboxMessage]:
        """See :meth:`OutboxSource.claim`."""
        now = datetime.now(UTC)
        until = self._lease_end(now, lease)
        rows: list[Sequence[Any]]
        try:
            if self._postgres:
                self._listen()
                params: dict[str, Any] = {
                    "now": now,
                    "until": until,
                    "owner": owner,
                    "limit": limit,
                }
                with connections[self.database].cursor() as cursor:
                    cursor.execute(_PG_CLAIM, params)
                    rows = [decode_json_columns(row) for row in cursor.fetchall()]
            else:
                rows = self._claim_with_orm(owner, limit, self._to_db(now), self._to_db(until))
            return self._decode_or_dead_letter(owner, sorted(rows, key=lambda row: row[0]))
        except DatabaseError:
            # a long-running relay outlives connections: drop a broken one, reconnect next time
            connections[self.database].close_if_unusable_or_obsolete()
            self.close()
            raise

    def _decode_or_dead_letter(self, owner: str, rows: Sequence[Any]) -> list[OutboxMessage]:
        """The claimed rows as messages; a row that cannot be decoded is dead-lettered."""
        messages = []
        for row in rows:
            try:
                messages.append(message_from_row(row))
            except CorruptOutboxRow as error:
                logger.error("dead-lettering a corrupt outbox row %s: %s", row[0], error)
                self.dead_letter(owner, row[0], f"corrupt outbox row: {error}")
        return messages

    def _claim_with_orm(
        self, owner: str, limit: int, now: datetime, until: datetime
    ) -> list[Sequence[Any]]:
        earlier = self._entries().filter(
            tenant_id=OuterRef("tenant_id"),
            stream_category=OuterRef("stream_category"),
            stream_uuid=OuterRef("stream_uuid"),
            id__lt=OuterRef("id"),
            dead=False,
        )
        due = (
            self._entries()
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now), dead=False)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
            .filter(~Exists(earlier))
            .order_by("id")
            .values("id")[:limit]
        )
        with transaction.atomic(using=self.database):
            claimed = self._entries().filter(id__in=Subquery(due))
            if not claimed.update(claimed_by=owner, claimed_until=until):
                return []
            return _row_values(
                self._entries().filter(claimed_by=owner, claimed_until=until).order_by("id")
            )

    def acknowledge(self, entry_ids: Sequence[int]) -> int:
        """See :meth:`OutboxSource.acknowledge`."""
        if not entry_ids:
            return 0
        if self._postgres:  # the hot path: one statement, no ORM collector
            with connections[self.database].cursor() as cursor:
                cursor.execute(_PG_ACKNOWLEDGE, [list(entry_ids)])
                return int(cursor.rowcount)
        deleted, _ = self._entries().filter(id__in=list(entry_ids)).delete()
        return deleted

    def _held(self, owner: str, entry_id: int) -> QuerySet[OutboxEntry]:
        return self._entries().filter(id=entry_id, claimed_by=owner, dead=False)

    def retry_later(self, owner: str, entry_id: int, error: str, next_attempt_at: datetime) -> bool:
        """See :meth:`OutboxSource.retry_later`."""
        return bool(
            self._held(owner, entry_id).update(
                attempts=F("attempts") + 1,
                last_error=error,
                next_attempt_at=self._to_db(next_attempt_at),
                claimed_by=None,
                claimed_until=None,
            )
        )

    def dead_letter(self, owner: str, entry_id: int, error: str) -> bool:
        """See :meth:`OutboxSource.dead_letter`."""
        return bool(
            self._held(owner, entry_id).update(
                attempts=F("attempts") + 1,
                last_error=error,
                dead=True,
                claimed_by=None,
                claimed_until=None,
            )
        )

    def release(self, owner: str, entry_ids: Sequence[int] | None = None) -> int:
        """See :meth:`OutboxSource.release`."""
        held = self._entries().filter(claimed_by=owner, dead=False)
        if entry_ids is not None:
            held = held.filter(id__in=list(entry_ids))
        released = held.update(claimed_by=None, claimed_until=None)
        if released:
            self._notify()
        return released

    def stats(self) -> OutboxStats:
        """See :meth:`OutboxSource.stats`."""
        now = self._to_db(datetime.now(UTC))
        alive = Q(dead=False)
        counts = self._entries().aggregate(
            n_alive=Count("id", filter=alive),
            n_in_flight=Count("id", filter=alive & Q(claimed_until__gt=now)),
            n_dead=Count("id", filter=Q(dead=True)),
            oldest=Min("enqueued_at", filter=alive),
        )
        oldest = counts["oldest"]
        age = None
        if oldest is not None:
            aware = oldest if timezone.is_aware(oldest) else timezone.make_aware(oldest)
            age = max(datetime.now(UTC) - aware, timedelta(0))
        return OutboxStats(
            pending=counts["n_alive"] - counts["n_in_flight"],
            in_flight=counts["n_in_flight"],
            dead=counts["n_dead"],
            oldest_age=age,
        )

    def dead_letters(self, limit: int = 100, after_id: int = 0) -> list[OutboxMessage]:
        """See :meth:`OutboxSource.dead_letters`."""
        rows = _row_values(self._entries().filter(dead=True, id__gt=after_id).order_by("id"), limit)
        return [dead_letter_from_row(row) for row in rows]

    def _dead(self, entry_ids: Sequence[int] | None) -> QuerySet[OutboxEntry]:
        dead = self._entries().filter(dead=True)
        return dead if entry_ids is None else dead.filter(id__in=list(entry_ids))

    def replay_dead_letters(self, entry_ids: Sequence[int] | None = None) -> int:
        """See :meth:`OutboxSource.replay_dead_letters`."""
        replayed = self._dead(entry_ids).update(
            dead=False, attempts=0, next_attempt_at=None, claimed_by=None, claimed_until=None
        )
        if replayed:
            self._notify()
        return replayed

    def purge_dead_letters(self, entry_ids: Sequence[int] | None = None) -> int:
        """See :meth:`OutboxSource.purge_dead_letters`."""
        purged, _ = self._dead(entry_ids).delete()
        return purged

    def _notify(self) -> None:
        if self._postgres:
            with connections[self.database].cursor() as cursor:
                cursor.execute("SELECT pg_notify(%s, '')", [self.channel])

    def _listen(self) -> None:
        if self._listener is not None:
            return
        import psycopg

        params = connections[self.database].get_connection_params()
        try:
            self._listener = psycopg.connect(**params, autocommit=True)
            self._listener.execute(f"LISTEN {self.channel}")
        except psycopg.Error as error:  # polling still works; listen again on the next claim
            logger.warning("cannot LISTEN %s, polling instead: %s", self.channel, error)
            self.close()

    def wait_for_entries(self, timeout: float) -> bool:
        """See :meth:`OutboxSource.wait_for_entries`: LISTEN on PostgreSQL, a sleep elsewhere."""
        if self._postgres:
            self._listen()
        if self._listener is None:
            time.sleep(timeout)
            return False
        try:
            return any(True for _ in self._listener.notifies(timeout=timeout, stop_after=1))
        except Exception as error:  # a broken listener costs one poll interval
            logger.warning("lost the LISTEN connection: %s", error)
            self.close()
            time.sleep(timeout)
            return False

    def close(self) -> None:
        """Close the LISTEN connection (the Django connections belong to Django)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()


def _row_values(entries: QuerySet[OutboxEntry], limit: int | None = None) -> list[Sequence[Any]]:
    """Rows in ``COLUMNS`` order, uuids as text so a damaged one reaches the decoder."""
    as_text = {f"{name}_text": Cast(name, CharField()) for name in ("event_uuid", "stream_uuid")}
    columns = [f"{c}_text" if f"{c}_text" in as_text else c for c in COLUMNS]
    return list(entries.annotate(**as_text).values_list(*columns)[:limit])


def outbox_source(database: str = "default") -> DjangoOutboxSource:
    """The ``django`` outbox source: sets Django up from ``DJANGO_SETTINGS_MODULE``.

    Args:
        database: The ``settings.DATABASES`` alias whose outbox is drained; the relay passes
            ``--source-option database=ALIAS`` here.

    Raises:
        RuntimeError: ``DJANGO_SETTINGS_MODULE`` is not set.
    """
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        raise RuntimeError(
            "the django outbox source needs DJANGO_SETTINGS_MODULE: set it to your project's "
            "settings module (e.g. DJANGO_SETTINGS_MODULE=mysite.settings)"
        )
    import django

    django.setup()
    if database not in settings.DATABASES:
        raise RuntimeError(
            f"the django outbox source's database {database!r} is not in settings.DATABASES "
            f"(known aliases: {sorted(settings.DATABASES)}); fix --source-option database=..."
        )
    return DjangoOutboxSource(database=database)
