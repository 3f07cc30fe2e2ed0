"""Making long-running transactions that hold subscriptions back visible.

A PostgreSQL subscription reads only events of transactions older than every transaction still
running, so one long transaction that has a transaction id delays every event committed after it
started, store-wide. When such a transaction has been running longer than a threshold while
committed events wait behind it, a warning names its backend pid and age, and
:func:`subscription_lag_blockers` reports it to whoever monitors the process.
"""

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from django.db import connections

from eventhex_django_adapter._position_clock import SHIFT_SQL
from eventhex_django_adapter.models import Event

__all__ = ["DEFAULT_LAG_WARNING_AFTER", "LagBlocker", "check_blockers", "subscription_lag_blockers"]

DEFAULT_LAG_WARNING_AFTER = timedelta(seconds=5)

logger = logging.getLogger("eventhex_django_adapter.subscription")


@dataclass(frozen=True)
class LagBlocker:
    """A running transaction that keeps committed events from subscriptions.

    Attributes:
        database: The Django database alias the subscription reads.
        pid: The blocking backend's process id (``pg_stat_activity.pid``). Backends this role
            may not inspect (see ``pg_read_all_stats``) have no age and are not reported.
        xid: The blocking transaction's id (64-bit, PostgreSQL's ``xid8``; the ``tx_id`` of its
            events is this plus the store's shift, see ``manage.py eventhex_status``).
        age_seconds: How long the transaction has been running, when it was observed.
    """

    database: str
    pid: int
    xid: int
    age_seconds: float


_lock = threading.Lock()
_blockers: dict[str, tuple[LagBlocker, ...]] = {}
_warned: set[tuple[str, int]] = set()


def subscription_lag_blockers(database: str | None = None) -> list[LagBlocker]:
    """Return the transactions that held subscriptions back at the last check in this process.

    A gauge for operators and the relay: empty while nothing blocks for longer than the
    threshold. Checks run while a subscription waits for events, at most about once a second.

    Args:
        database: Only report blockers seen on this alias; all aliases when None.
    """
    with _lock:
        aliases = [database] if database is not None else sorted(_blockers)
        return [blocker for alias in aliases for blocker in _blockers.get(alias, ())]


_BLOCKERS_SQL = f"""
WITH clock AS MATERIALIZED (SELECT {SHIFT_SQL} AS shift),
running AS (
    SELECT xip::text::bigint AS xid
    FROM pg_snapshot_xip(pg_current_snapshot()) AS xip
)
SELECT r.xid, a.pid, EXTRACT(EPOCH FROM clock_timestamp() - a.xact_start)::float8
FROM running r
LEFT JOIN pg_stat_activity a ON a.backend_xid::text::bigint = mod(r.xid, 4294967296)
WHERE EXISTS (
    SELECT 1 FROM {{events}} e
    WHERE e.tx_id > r.xid + (SELECT shift FROM clock)
      AND e.tx_id IS DISTINCT FROM
          pg_current_xact_id_if_assigned()::text::bigint + (SELECT shift FROM clock)
)
ORDER BY r.xid"""


def check_blockers(alias: str, threshold: timedelta) -> list[LagBlocker]:
    """Find transactions blocking readers of ``alias`` for longer than ``threshold``.

    Updates the gauge and logs one warning per newly seen blocker. PostgreSQL only; other
    databases have no blockers.
    """
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(_BLOCKERS_SQL.format(events=Event._meta.db_table))
        rows = cursor.fetchall()
    limit = threshold.total_seconds()
    found = tuple(
        LagBlocker(database=alias, pid=pid, xid=xid, age_seconds=age)
        for xid, pid, age in rows
        if age is not None and age >= limit
    )
    with _lock:
        _blockers[alias] = found
        fresh = [b for b in found if (alias, b.xid) not in _warned]
        _warned.difference_update([key for key in _warned if key[0] == alias])
        _warned.update((alias, b.xid) for b in found)
    for blocker in fresh:
        logger.warning(
            "eventhex subscriptions on database %r are held back by transaction %d of backend "
            "pid %s, running for %.1f s: events committed after it started are not readable "
            "until it ends",
            alias,
            blocker.xid,
            blocker.pid,
            blocker.age_seconds,
        )
    return list(found)
