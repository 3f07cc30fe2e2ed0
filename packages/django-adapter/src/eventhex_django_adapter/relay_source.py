"""``DjangoOutboxSource``: the outbox relay's source on the ``eventhex_outboxentry`` table.

A claim is one statement (see :mod:`._outbox.table`, which ``Outbox.run`` shares): the oldest
due entries that no earlier entry of their stream holds back, stamped with the claimer and the
lease end. Of each stream it takes a run of consecutive entries from the oldest alive one, and a
stream's later entries stay held back while any of its earlier ones is leased or waits for a
retry, whatever the other relays are doing. A relay that fails entry k of a run fails it
(``retry_later`` or ``dead_letter``) and releases the entries after it; they come back after k.

Relays wake on ``LISTEN eventhex_outbox`` on PostgreSQL (a trigger of ``notify.sql``) and
poll elsewhere. :func:`outbox_source` is the ``django`` entry point of the
``eventhex.outbox_sources`` group that ``eventhex-relay --source django`` loads.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from eventhex_core_ports.ports.relay import (
    OutboxMessage,
    OutboxSource,
    OutboxSourceUnusable,
    OutboxStats,
)
from eventhex_django_adapter._db import unmigrated
from eventhex_django_adapter._outbox.rows import (
    CorruptOutboxRow,
    dead_letter_from_row,
    message_from_row,
)

if TYPE_CHECKING:
    from eventhex_django_adapter.models import OutboxEntry

__all__ = ["CHANNEL", "DjangoOutboxSource", "outbox_source"]

CHANNEL = "eventhex_outbox"

logger = logging.getLogger("eventhex.relay.django")

_Params = ParamSpec("_Params")
_Result = TypeVar("_Result")


def _unusable_when_unmigrated(
    method: Callable[Concatenate[DjangoOutboxSource, _Params], _Result],
) -> Callable[Concatenate[DjangoOutboxSource, _Params], _Result]:
    """A missing eventhex table or function raises ``OutboxSourceUnusable``: the relay stops
    with the fix (run ``migrate``) instead of retrying what cannot succeed."""

    @wraps(method)
    def guarded(
        self: DjangoOutboxSource, /, *args: _Params.args, **kwargs: _Params.kwargs
    ) -> _Result:
        try:
            return method(self, *args, **kwargs)
        except DatabaseError as error:
            missing = unmigrated(error, self.database)
            if missing is None:
                raise
            raise OutboxSourceUnusable(str(missing)) from error

    return guarded


class DjangoOutboxSource(OutboxSource):
    """The relay's view of the outbox table of one database.

    Args:
        database: The ``settings.DATABASES`` alias holding the eventhex tables.
        channel: The NOTIFY channel of ``notify.sql`` (PostgreSQL only).
    """

    def __init__(self, database: str = "default", channel: str = CHANNEL) -> None:
        from eventhex_django_adapter._outbox.table import OutboxTable  # needs Django set up

        self.database = database
        self.channel = channel
        self._table = OutboxTable(database, prepared_statements=False)
        self._listener: Any = None

    def _entries(self) -> QuerySet[OutboxEntry]:
        return self._table.rows()

    @_unusable_when_unmigrated
    def claim(self, owner: str, limit: int, lease: timedelta) -> list[OutboxMessage]:
        """See :meth:`OutboxSource.claim`."""
        try:
            if self._table.postgres:
                self._listen()
            return self._decode_or_dead_letter(owner, self._table.lease_claim(owner, limit, lease))
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

    def acknowledge(self, entry_ids: Sequence[int]) -> int:
        """See :meth:`OutboxSource.acknowledge`."""
        return self._table.delete(entry_ids)

    def retry_later(self, owner: str, entry_id: int, error: str, next_attempt_at: datetime) -> bool:
        """See :meth:`OutboxSource.retry_later`."""
        return self._table.fail(entry_id, error, dead=False, holder=owner, retry_at=next_attempt_at)

    def dead_letter(self, owner: str, entry_id: int, error: str) -> bool:
        """See :meth:`OutboxSource.dead_letter`."""
        return self._table.fail(entry_id, error, dead=True, holder=owner)

    def release(self, owner: str, entry_ids: Sequence[int] | None = None) -> int:
        """See :meth:`OutboxSource.release`."""
        released = self._table.release(owner, entry_ids)
        if released:
            self._notify()
        return released

    @_unusable_when_unmigrated
    def stats(self) -> OutboxStats:
        """See :meth:`OutboxSource.stats`."""
        now = self._table.stored(datetime.now(UTC))
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

    @_unusable_when_unmigrated
    def dead_letters(self, limit: int = 100, after_id: int = 0) -> list[OutboxMessage]:
        """See :meth:`OutboxSource.dead_letters`."""
        from eventhex_django_adapter._outbox.table import row_values

        rows = row_values(self._entries().filter(dead=True, id__gt=after_id).order_by("id"), limit)
        return [dead_letter_from_row(row) for row in rows]

    def _dead(self, entry_ids: Sequence[int] | None) -> QuerySet[OutboxEntry]:
        dead = self._entries().filter(dead=True)
        return dead if entry_ids is None else dead.filter(id__in=list(entry_ids))

    @_unusable_when_unmigrated
    def replay_dead_letters(self, entry_ids: Sequence[int] | None = None) -> int:
        """See :meth:`OutboxSource.replay_dead_letters`."""
        replayed = self._dead(entry_ids).update(
            dead=False, attempts=0, next_attempt_at=None, claimed_by=None, claimed_until=None
        )
        if replayed:
            self._notify()
        return replayed

    @_unusable_when_unmigrated
    def purge_dead_letters(self, entry_ids: Sequence[int] | None = None) -> int:
        """See :meth:`OutboxSource.purge_dead_letters`."""
        purged, _ = self._dead(entry_ids).delete()
        return purged

    def _notify(self) -> None:
        if self._table.postgres:
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
        if self._table.postgres:
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


def outbox_source(database: str = "default") -> DjangoOutboxSource:
    """The ``django`` outbox source: sets Django up from ``DJANGO_SETTINGS_MODULE``.

    Args:
        database: The ``settings.DATABASES`` alias whose outbox is drained; the relay passes
            ``--source-option database=ALIAS`` here.

    Raises:
        RuntimeError: ``DJANGO_SETTINGS_MODULE`` is not set or cannot be imported, the
            ``eventhex_django_adapter`` app is not in ``INSTALLED_APPS``, or ``database`` is not
            in ``settings.DATABASES``; the message says how to fix it.
    """
    module = os.environ.get("DJANGO_SETTINGS_MODULE")
    if not module:
        raise RuntimeError(
            "the django outbox source needs DJANGO_SETTINGS_MODULE: set it to your project's "
            "settings module (e.g. DJANGO_SETTINGS_MODULE=mysite.settings)"
        )
    _import_settings(module)
    import django
    from django.apps import apps

    django.setup()
    if not apps.is_installed("eventhex_django_adapter"):
        raise RuntimeError(
            f"the eventhex app is not installed in {module}: "
            "add 'eventhex_django_adapter' to INSTALLED_APPS"
        )
    if database not in settings.DATABASES:
        raise RuntimeError(
            f"the django outbox source's database {database!r} is not in settings.DATABASES "
            f"(known aliases: {sorted(settings.DATABASES)}); fix --source-option database=..."
        )
    return DjangoOutboxSource(database=database)


def _import_settings(module: str) -> None:
    """Import the settings module first, so that a missing one is told apart from a missing
    package its settings import."""
    try:
        importlib.import_module(module)
    except ImportError as error:
        missing = error.name or ""
        if missing and (module == missing or module.startswith(missing + ".")):
            top = module.partition(".")[0]
            raise RuntimeError(
                f"DJANGO_SETTINGS_MODULE={module} cannot be imported: {error}; run "
                f"eventhex-relay from the folder that contains {top}/ or set PYTHONPATH"
            ) from None
        raise RuntimeError(
            f"DJANGO_SETTINGS_MODULE={module} cannot be imported: {error} (raised while "
            "importing the settings); install what it needs"
        ) from error
