"""Subscriptions that read from a PostgreSQL streaming replica: waking up, and replay lag.

A standby cannot ``LISTEN``. A caught-up subscription on a replica therefore listens on the
primary; a notification means "a commit happened before now", so the waiter asks the primary
for its WAL position at that moment and waits until the replica has replayed up to it. Then the
commit is visible on the replica, and the next read finds its events. A notification lost, or a
replay slower than the batch's time limit, costs only the fallback poll: reads decide what is
readable, and the waiter carries an unreached target over to the next wait.
"""

import logging
import time
from dataclasses import dataclass

from django.db import connections

from eventhex_django_adapter._subscription.notify import NotificationWaiter

__all__ = ["ReplicaLag", "ReplicaWaiter", "replica_lag"]

logger = logging.getLogger("eventhex_django_adapter.subscription")

_FIRST_CHECK = 0.001
_LONGEST_CHECK = 0.02

_REPLAYED_SQL = "SELECT COALESCE(pg_last_wal_replay_lsn() >= %s::pg_lsn, TRUE)"
"""Whether the replica has replayed up to the LSN; a server not in recovery has everything."""


class ReplicaWaiter:
    """Waits for wake-ups on the primary, then for the replica to replay them.

    Args:
        replica: The alias reads come from.
        listener: Listens on the primary's notification channel.
        warn_after: Seconds a notified commit may stay unreplayed before an error is logged.
    """

    def __init__(self, replica: str, listener: NotificationWaiter, warn_after: float) -> None:
        self._replica = replica
        self._listener = listener
        self._warn_after = warn_after
        self._target: str | None = None
        self._behind_since: float | None = None
        self._warned_at = -float("inf")

    def prepare(self) -> bool:
        return self._listener.prepare()

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + max(0.0, timeout)
        if self._target is None:
            if not self._listener.notified_within(timeout):
                return
            self._target = self._listener.current_wal_lsn()
            if self._target is None:
                return
        if self._replayed_by(self._target, deadline):
            self._target = None
            self._behind_since = None
        else:
            self._report_lag()

    def found_events(self) -> None:
        self._listener.found_events()

    def close(self) -> None:
        self._listener.close()

    def _replayed_by(self, target: str, deadline: float) -> bool:
        """Poll the replica until it has replayed ``target`` or ``deadline`` passes."""
        pause = _FIRST_CHECK
        with connections[self._replica].cursor() as cursor:
            while True:
                cursor.execute(_REPLAYED_SQL, [target])
                row = cursor.fetchone()
                if row is not None and row[0]:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                time.sleep(min(pause, remaining))
                pause = min(pause * 2, _LONGEST_CHECK)

    def _report_lag(self) -> None:
        now = time.monotonic()
        self._behind_since = self._behind_since or now
        late = now - self._behind_since >= self._warn_after
        if late and now - self._warned_at >= self._warn_after:
            self._warned_at = now
            logger.error(
                "eventhex subscription: replica %r has not replayed a commit notified %.1f s "
                "ago (WAL %s); its events are delivered once it does. Check the standby's "
                "replication (pg_stat_replication on the primary) or read from the primary.",
                self._replica,
                now - self._behind_since,
                self._target,
            )


@dataclass(frozen=True)
class ReplicaLag:
    """How far a replica is behind its primary.

    Attributes:
        replica: The replica's alias.
        in_recovery: Whether it is a standby (``False``: promoted, or not a replica at all).
        bytes_behind: WAL the primary has written that the replica has not replayed.
        seconds_behind: Age of the last replayed commit while WAL waits to be replayed
            (0 when everything received is replayed).
    """

    replica: str
    in_recovery: bool
    bytes_behind: int
    seconds_behind: float

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "replica": self.replica,
            "in_recovery": self.in_recovery,
            "replay_lag_bytes": self.bytes_behind,
            "replay_lag_seconds": round(self.seconds_behind, 3),
        }


def replica_lag(replica: str, primary: str) -> ReplicaLag:
    """Measure ``replica``'s replay lag behind ``primary`` (both PostgreSQL aliases)."""
    with connections[primary].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        (primary_lsn,) = cursor.fetchone()
    with connections[replica].cursor() as cursor:
        cursor.execute(
            """SELECT pg_is_in_recovery(),
                      COALESCE(pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn()), 0),
                      CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM
                                pg_last_wal_replay_lsn() THEN 0
                           ELSE COALESCE(EXTRACT(EPOCH FROM
                                now() - pg_last_xact_replay_timestamp()), 0) END""",
            [primary_lsn],
        )
        in_recovery, behind, seconds = cursor.fetchone()
    return ReplicaLag(replica, bool(in_recovery), max(int(behind), 0), float(seconds))
