"""Waking subscriptions: LISTEN/NOTIFY on PostgreSQL, polling with backoff on SQLite.

The initial migration installs a statement-level trigger that sends ``NOTIFY eventhex_events`` from
every transaction that appends events; the notification is delivered when that transaction
commits. Each subscription iterator that has caught up listens on a dedicated connection of its
own (opened on first need, closed with the iterator), so no thread and no shared state are
involved. A wake-up only means "look again": reads decide what is readable, and a lost
notification costs at most one fallback interval.
"""

import logging
import select
import time
from typing import Any, Protocol

from django.db import connections

__all__ = ["CHANNEL", "NotificationWaiter", "PollingWaiter", "Waiter", "waiter_for"]

CHANNEL = "eventhex_events"

logger = logging.getLogger("eventhex_django_adapter.subscription")


class Waiter(Protocol):
    """Blocks a caught-up subscription until something new may be readable."""

    def prepare(self) -> bool:
        """Get ready to notice appends from now on; True if it just started listening."""

    def wait(self, timeout: float) -> None:
        """Return after at most ``timeout`` seconds, earlier when an append may have landed."""

    def found_events(self) -> None:
        """Tell the waiter that the last read returned events."""

    def close(self) -> None:
        """Release whatever the waiter holds."""


class PollingWaiter:
    """Sleeps between reads: 5 ms after activity, doubling up to the longest interval."""

    _SHORTEST = 0.005

    def __init__(self, longest: float) -> None:
        self._longest = longest
        self._interval = min(self._SHORTEST, longest)

    def prepare(self) -> bool:
        return False

    def wait(self, timeout: float) -> None:
        time.sleep(max(0.0, min(timeout, self._interval)))
        self._interval = min(self._interval * 2, self._longest)

    def found_events(self) -> None:
        self._interval = min(self._SHORTEST, self._longest)

    def close(self) -> None:
        return None


class NotificationWaiter:
    """Waits on a dedicated ``LISTEN`` connection, re-polling after ``longest`` seconds.

    If the listening connection cannot be opened or breaks, it falls back to polling at
    ``longest`` and tries to listen again on the next wait.
    """

    def __init__(self, alias: str, longest: float) -> None:
        self._alias = alias
        self._longest = longest
        self._connection: Any = None
        self._retry_at = 0.0

    def prepare(self) -> bool:
        if self._connection is not None or time.monotonic() < self._retry_at:
            return False
        try:
            import psycopg

            params = connections[self._alias].get_connection_params()
            self._connection = psycopg.connect(**params, autocommit=True)
            self._connection.execute(f"LISTEN {CHANNEL}")
        except Exception as error:  # any failure here only means: poll instead
            logger.warning(
                "eventhex subscription on %r cannot LISTEN (%s); polling every %.3f s",
                self._alias,
                error,
                self._longest,
            )
            self.close()
            self._retry_at = time.monotonic() + self._longest
            return False
        return True

    def wait(self, timeout: float) -> None:
        self.notified_within(timeout)

    def notified_within(self, timeout: float) -> bool:
        """Wait as :meth:`wait` does; True if a notification arrived."""
        timeout = max(0.0, min(timeout, self._longest))
        connection = self._connection
        if connection is None:
            time.sleep(timeout)
            return False
        try:
            readable, _, _ = select.select([connection.fileno()], [], [], timeout)
            if readable:
                self._drain()
                return True
        except Exception as error:
            logger.warning("eventhex subscription lost its LISTEN connection: %s", error)
            self.close()
        return False

    def current_wal_lsn(self) -> str | None:
        """The listened-to server's WAL position now (``None`` without a connection)."""
        if self._connection is None:
            return None
        row = self._connection.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        return str(row[0])

    def _drain(self) -> None:
        pgconn = self._connection.pgconn
        pgconn.consume_input()
        while pgconn.notifies() is not None:
            pass

    def found_events(self) -> None:
        return None

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # closing a broken connection may fail; nothing is left to free
                logger.debug("closing the LISTEN connection failed", exc_info=True)


def waiter_for(
    alias: str,
    longest: float,
    *,
    primary: str | None = None,
    replica_lag_warning_after: float = 10.0,
) -> Waiter:
    """The waiter suited to the database behind ``alias``, read as a replica of ``primary``."""
    if connections[alias].vendor != "postgresql":
        return PollingWaiter(longest)
    if primary is None or primary == alias:
        return NotificationWaiter(alias, longest)
    from eventhex_django_adapter._subscription.replica import ReplicaWaiter

    return ReplicaWaiter(alias, NotificationWaiter(primary, longest), replica_lag_warning_after)
