"""``DjangoSubscriptionStrategy``: every committed event exactly once, in commit order.

PostgreSQL: each event row carries the id of the transaction that wrote it, plus the store's
shift (``tx_id``; the shift keeps positions growing when the database moves to another cluster,
ADR 0010). A subscription reads only events of transactions older than every transaction still
running (``tx_id < pg_snapshot_xmin(pg_current_snapshot()) + shift``), ordered by
``(tx_id, id)``; its position is that pair encoded as ``(tx_id << 64) | id``. An event id taken
earlier but committed later is therefore never skipped: readers do not move past it until it has
committed or rolled back.
Caught-up readers sleep on ``LISTEN eventhex_events`` (sent by a trigger when an appending
transaction commits) and poll every ``gap_retry_interval`` as the fallback.

A read inside a transaction that has appended events itself also returns those events, after
everything committed before them (for example in tests on pytest-django's ``db`` fixture).
Caveat: an older transaction still running at that moment that commits events later is then
behind the position such a reader reached, so keep in-transaction reads to tests.

Any transaction that has a transaction id holds readers back while it runs (transaction ids and
snapshots are cluster-wide, so this includes writers in other databases of the same server, and
prepared transactions). Once one exceeds ``lag_warning_after`` while committed events wait
behind it, a warning names its backend pid and age, and :func:`subscription_lag_blockers`
reports it. Read-only transactions never hold readers back.

If its connection dies (server restart, terminated backend), an iterator reading outside a
transaction reconnects and resumes after its last delivered event, for up to
``DjangoConfig.subscription_reconnect_timeout``; then, or inside a transaction, it raises the
database error, and a new subscription from the last processed position carries on exactly.

Each caught-up iterator holds one extra connection (its ``LISTEN``) until it is garbage
collected; drop iterators you no longer read.

With ``DjangoConfig(subscription_database=...)`` every read goes to that alias, a streaming
replica of ``database``: the same rule gives the same events at the same positions there, since
physical replication keeps transaction ids and a standby's snapshot treats a transaction as
running until its commit is replayed. Caught-up readers listen on the primary and wait for the
replica to replay the notified commit (``_subscription/replica.py``).

SQLite: one writer at a time makes id order commit order; the position is the event id and a
caught-up reader polls, backing off from 5 ms to ``gap_retry_interval``.
"""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from event_sourcery.event import Position, Recorded, RecordedRaw
from event_sourcery.interfaces import SubscriptionStrategy

from eventhex_core_ports.ports.decoded_reads import RecordedSubscriptions, StoredEventDecoder
from eventhex_django_adapter._subscription.lag import (
    DEFAULT_LAG_WARNING_AFTER,
    LagBlocker,
    subscription_lag_blockers,
)
from eventhex_django_adapter._subscription.loop import SubscriptionPlan, batches
from eventhex_django_adapter._subscription.reads import EventSelection
from eventhex_django_adapter.config import DjangoConfig

__all__ = [
    "DjangoSubscriptionStrategy",
    "LagBlocker",
    "subscription_lag_blockers",
]


class DjangoSubscriptionStrategy(SubscriptionStrategy, RecordedSubscriptions):
    """Subscriptions to all events, a category or event types in the configured database.

    Args:
        config: Supplies the database alias and ``gap_retry_interval``, the longest a caught-up
            subscription waits before reading again when no wake-up arrives.
        lag_warning_after: How long a running transaction may hold readers back before it is
            logged and reported by :func:`subscription_lag_blockers`.
    """

    def __init__(
        self,
        config: DjangoConfig,
        lag_warning_after: timedelta = DEFAULT_LAG_WARNING_AFTER,
    ) -> None:
        self._database = config.read_database
        self._primary = config.database
        self._replica_warning_after = config.replica_lag_warning_after
        self._longest_wait = config.gap_retry_interval
        self._lag_warning_after = lag_warning_after
        self._reconnect_timeout = config.subscription_reconnect_timeout
        self._prepared_statements = config.prepared_statements

    def subscribe_to_all(
        self,
        start_from: Position,
        batch_size: int,
        timelimit: timedelta,
    ) -> Iterator[list[RecordedRaw]]:
        """Batches of every event after ``start_from``, in commit order."""
        return self._subscribe(EventSelection(), start_from, batch_size, timelimit)

    def subscribe_to_category(
        self,
        start_from: Position,
        batch_size: int,
        timelimit: timedelta,
        category: str,
    ) -> Iterator[list[RecordedRaw]]:
        """Batches of the events of streams in ``category`` after ``start_from``."""
        selection = EventSelection.of(category=category or "")
        return self._subscribe(selection, start_from, batch_size, timelimit)

    def subscribe_to_events(
        self,
        start_from: Position,
        batch_size: int,
        timelimit: timedelta,
        events: list[str],
    ) -> Iterator[list[RecordedRaw]]:
        """Batches of the events named in ``events`` after ``start_from``."""
        selection = EventSelection.of(names=events)
        return self._subscribe(selection, start_from, batch_size, timelimit)

    def subscribe_recorded(
        self,
        decoder: StoredEventDecoder,
        start_from: Position,
        batch_size: int,
        timelimit: timedelta,
        category: str | None = None,
        event_names: list[str] | None = None,
    ) -> Iterator[list[Recorded]]:
        """The batches of :meth:`subscribe_to_all` (to a category or to event names when one
        is given) as finished ``Recorded``s, each event built by ``decoder`` from the row read
        (the subscription builder of ``eventhex_core_ports._internal.reading``)."""
        selection = EventSelection.of(category, event_names)
        return self._subscribe(selection, start_from, batch_size, timelimit, decoder)

    def _subscribe(
        self,
        selection: EventSelection,
        start_from: Position,
        batch_size: int,
        timelimit: timedelta,
        decoder: StoredEventDecoder | None = None,
    ) -> Iterator[list[Any]]:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        plan = SubscriptionPlan(
            database=self._database,
            selection=selection,
            batch_size=batch_size,
            timelimit=timelimit,
            longest_wait=self._longest_wait,
            lag_warning_after=self._lag_warning_after,
            reconnect_timeout=self._reconnect_timeout,
            prepared_statements=self._prepared_statements,
            decoder=decoder,
            primary=self._primary,
            replica_lag_warning_after=self._replica_warning_after,
        )
        return batches(plan, start_from)
