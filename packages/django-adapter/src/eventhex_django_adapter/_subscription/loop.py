"""The batch loop behind every subscription iterator.

A batch is returned as soon as it is full; otherwise the loop waits for a wake-up (or the
fallback interval) and reads again, returning what it has once the time limit has passed. Each
read is one query that starts right after the last delivered position, so a batch never holds
an event twice and an event that is not readable yet is never skipped.

When the connection dies outside a transaction, the read is retried on a new connection from
the same position (with backoff, for up to ``reconnect_timeout``), so nothing is skipped or
repeated; inside ``transaction.atomic`` the error is raised, since the transaction is lost.
"""

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError, connections

from eventhex_core_ports.errors import UndecodableEvent
from eventhex_core_ports.ports.decoded_reads import StoredEventDecoder
from eventhex_django_adapter._subscription.lag import check_blockers
from eventhex_django_adapter._subscription.notify import Waiter, waiter_for
from eventhex_django_adapter._subscription.read_ahead import ReadAhead
from eventhex_django_adapter._subscription.reads import EventSelection, read_after

__all__ = ["SubscriptionPlan", "batches"]

_LAG_CHECK_EVERY = 1.0
_FIRST_RETRY = 0.05
_LONGEST_RETRY = 1.0

logger = logging.getLogger("eventhex_django_adapter.subscription")


@dataclass(frozen=True)
class SubscriptionPlan:
    """Everything a subscription iterator needs besides its starting position."""

    database: str
    selection: EventSelection
    batch_size: int
    timelimit: timedelta
    longest_wait: timedelta
    lag_warning_after: timedelta
    reconnect_timeout: timedelta = timedelta(seconds=30)
    prepared_statements: bool = True
    decoder: StoredEventDecoder | None = None
    """Builds finished ``Recorded``s (``RecordedRaw``s without one)."""
    primary: str | None = None
    """The alias that takes the writes and sends the wake-ups (``None``: ``database``)."""
    replica_lag_warning_after: timedelta = timedelta(seconds=10)


class _Cursor:
    def __init__(self, plan: SubscriptionPlan, position: int, waiter: Waiter) -> None:
        self.plan = plan
        self.position = position
        self.waiter = waiter
        self.lag_check_due = -math.inf
        threshold = plan.lag_warning_after.total_seconds()
        self.lag_check_every = min(_LAG_CHECK_EVERY, max(threshold, 0.05))
        self.ahead = ReadAhead()

    def next_batch(self) -> list[Any]:
        plan = self.plan
        deadline = time.monotonic() + plan.timelimit.total_seconds()
        batch: list[Any] = []
        while True:
            try:
                found = self._read(plan.batch_size - len(batch))
            except UndecodableEvent:
                if batch:  # deliver what came before it; the next batch raises at it
                    return batch
                raise
            if found:
                batch.extend(found)
                self.position = found[-1].position
                self.waiter.found_events()
            remaining = deadline - time.monotonic()
            if len(batch) >= plan.batch_size or remaining <= 0:
                return batch
            if self.waiter.prepare():
                continue  # listening from now on: look once more, then wait
            self._check_lag()
            self.waiter.wait(remaining)

    def _read(self, limit: int) -> list[Any]:
        """Read after the current position, reconnecting if the connection died."""
        plan = self.plan
        failing_since: float | None = None
        delay = _FIRST_RETRY
        while True:
            try:
                return read_after(
                    plan.database,
                    plan.selection,
                    self.position,
                    limit,
                    plan.prepared_statements,
                    plan.decoder,
                    self.ahead,
                )
            except (OperationalError, InterfaceError) as error:
                connection = connections[plan.database]
                now = time.monotonic()
                failing_since = now if failing_since is None else failing_since
                if (
                    connection.in_atomic_block
                    or now - failing_since >= plan.reconnect_timeout.total_seconds()
                ):
                    raise
                logger.warning(
                    "eventhex subscription on %r lost its database connection (%s); "
                    "reconnecting to read after position %s",
                    plan.database,
                    error,
                    self.position,
                )
                _close_quietly(plan.database)
                time.sleep(delay)
                delay = min(delay * 2, _LONGEST_RETRY)

    def _check_lag(self) -> None:
        now = time.monotonic()
        if now >= self.lag_check_due:
            self.lag_check_due = now + self.lag_check_every
            try:
                check_blockers(self.plan.database, self.plan.lag_warning_after)
            except DatabaseError:  # a diagnostic only: the next read deals with the connection
                logger.debug("checking for lagging transactions failed", exc_info=True)


def _close_quietly(alias: str) -> None:
    try:
        connections[alias].close()
    except DatabaseError:  # closing a dead connection may fail; it is discarded either way
        logger.debug("closing the broken connection of %r failed", alias, exc_info=True)


def batches(plan: SubscriptionPlan, start_from: int | None) -> Iterator[list[Any]]:
    """Yield batches of events after ``start_from`` forever, per ``plan``."""
    waiter = waiter_for(
        plan.database,
        plan.longest_wait.total_seconds(),
        primary=plan.primary,
        replica_lag_warning_after=plan.replica_lag_warning_after.total_seconds(),
    )
    cursor = _Cursor(plan, max(start_from or 0, 0), waiter)
    try:
        while True:
            yield cursor.next_batch()
    finally:
        waiter.close()
