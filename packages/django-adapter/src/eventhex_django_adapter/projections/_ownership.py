"""Who works on which projection: PostgreSQL advisory locks, or leases on SQLite.

PostgreSQL: each runner keeps one dedicated connection holding a session advisory lock per
projection it owns, and one more that marks it alive (so runners can count each other and share
the projections). When a runner dies, its connection closes and the server drops its locks at
once; another runner takes the projections over at its next look (``claim_interval``). The
connection sets TCP keepalives and a user timeout, so a runner whose machine vanished without
closing its sockets loses its locks after about ``KEEPALIVE_SECONDS`` too.

SQLite: one runner at a time. It holds a lease on each projection row and renews it; a second
runner waits as a standby until the leases expire.

Either way the row's generation fences every batch (see ``_store``), so ownership only decides
who should work; it never has to be perfect for the read models to stay exact.
"""

import logging
import random
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, Protocol

from django.db import connections

from eventhex_django_adapter.projections import _store
from eventhex_django_adapter.projections._store import Claim
from eventhex_django_adapter.projections.models import ProjectionState

__all__ = ["AdvisoryLocks", "Leases", "Ownership", "ownership_for"]

logger = logging.getLogger("eventhex_django_adapter.projections")

PROJECTION_LOCKS = 0x65766878
"""First key of the projections' advisory locks ('evhx'); the second is the row id."""
RUNNER_LOCKS = PROJECTION_LOCKS + 1
"""First key of the locks that mark live runners; the second is random per runner."""
KEEPALIVE_SECONDS = 10


class Ownership(Protocol):
    """Claims projections for one runner and tells when it lost them."""

    def claim(self, name: str) -> Claim | None:
        """Take ``name`` over if nobody alive owns it."""

    def keep(self, held: Iterable[Claim]) -> set[str]:
        """Keep the held claims alive; the names of those that are lost."""

    def release(self, held: Claim) -> None:
        """Give a claim up."""

    def live_runners(self) -> int:
        """How many runners are alive (this one included)."""

    def close(self) -> None:
        """Give everything up."""


class AdvisoryLocks:
    """Ownership by session advisory locks on a dedicated PostgreSQL connection.

    Args:
        alias: The database alias of the event store.
        owner: This runner's name, written to the rows it owns.
    """

    def __init__(self, alias: str, owner: str) -> None:
        self._alias = alias
        self._owner = owner
        self._connection: Any = None
        self._ids: dict[str, int] = {}

    def _connect(self) -> Any:
        if self._connection is not None:
            return self._connection
        import psycopg

        params = connections[self._alias].get_connection_params()
        connection = psycopg.connect(
            **params,
            autocommit=True,
            keepalives=1,
            keepalives_idle=KEEPALIVE_SECONDS // 2,
            keepalives_interval=1,
            keepalives_count=KEEPALIVE_SECONDS // 2,
        )
        # The server side of this connection notices a vanished runner the same way.
        connection.execute(f"SET tcp_keepalives_idle = {KEEPALIVE_SECONDS // 2}")
        connection.execute("SET tcp_keepalives_interval = 1")
        connection.execute(f"SET tcp_keepalives_count = {KEEPALIVE_SECONDS // 2}")
        connection.execute(f"SET tcp_user_timeout = {KEEPALIVE_SECONDS * 1000}")
        while True:
            mark = random.randrange(1, 2**31)
            row = connection.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", (RUNNER_LOCKS, mark)
            ).fetchone()
            if row and row[0]:
                break
        self._connection = connection
        return connection

    def _row_id(self, name: str) -> int:
        if name not in self._ids:
            rows = ProjectionState.objects.using(self._alias)
            self._ids[name] = rows.values_list("id", flat=True).get(name=name)
        return self._ids[name]

    def claim(self, name: str) -> Claim | None:
        """Lock the projection (without waiting), then raise its generation."""
        connection = self._connect()
        key = (PROJECTION_LOCKS, self._row_id(name))
        row = connection.execute("SELECT pg_try_advisory_lock(%s, %s)", key).fetchone()
        if not (row and row[0]):
            return None
        held = _store.claim(self._alias, name, self._owner)
        if held is None:  # a live rebuild has it: let go of the lock again
            connection.execute("SELECT pg_advisory_unlock(%s, %s)", key)
        return held

    def keep(self, held: Iterable[Claim]) -> set[str]:
        """Check the lock connection; when it broke, every claim is lost."""
        names = {claim.name for claim in held}
        if self._connection is None:
            return names
        try:
            self._connection.execute("SELECT 1")
        except Exception as error:
            logger.warning("the advisory lock connection broke (%s); giving up every lock", error)
            self._drop()
            return names
        return set()

    def release(self, held: Claim) -> None:
        """Clear the row's owner and unlock."""
        _store.release(self._alias, held)
        if self._connection is not None:
            key = (PROJECTION_LOCKS, self._row_id(held.name))
            try:
                self._connection.execute("SELECT pg_advisory_unlock(%s, %s)", key)
            except Exception as error:
                logger.warning("unlocking %s failed (%s)", held.name, error)
                self._drop()

    def live_runners(self) -> int:
        """Runners holding their liveness lock in this database."""
        connection = self._connect()
        row = connection.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = %s::bigint::oid AND objsubid = 2 AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())",
            (RUNNER_LOCKS,),
        ).fetchone()
        return max(1, int(row[0]) if row else 1)

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # a broken connection may fail to close; it is gone either way
                logger.debug("closing the lock connection failed", exc_info=True)

    def close(self) -> None:
        """Close the lock connection: the server drops every lock it held."""
        self._drop()


class Leases:
    """Ownership by leases in the projection rows (SQLite: one runner, others stand by).

    Args:
        alias: The database alias of the event store.
        owner: This runner's name, written to the rows it owns.
        lease: How long a claim stays valid without renewal.
    """

    def __init__(self, alias: str, owner: str, lease: timedelta) -> None:
        self._alias = alias
        self._owner = owner
        self._lease = lease

    def claim(self, name: str) -> Claim | None:
        """Take the row's lease when it is free or expired."""
        return _store.claim(self._alias, name, self._owner, self._lease)

    def keep(self, held: Iterable[Claim]) -> set[str]:
        """Renew each lease; the names whose rows were taken over."""
        return {claim.name for claim in held if not _store.renew(self._alias, claim, self._lease)}

    def release(self, held: Claim) -> None:
        """Clear the row's owner and lease."""
        _store.release(self._alias, held)

    def live_runners(self) -> int:
        """One: SQLite runs one runner at a time."""
        return 1

    def close(self) -> None:
        """Nothing to close: expired leases free themselves."""


def ownership_for(alias: str, owner: str, lease: timedelta) -> Ownership:
    """Advisory locks on PostgreSQL, leases elsewhere."""
    if connections[alias].vendor == "postgresql":
        return AdvisoryLocks(alias, owner)
    return Leases(alias, owner, lease)
