"""Processes for the stress test: writers that commit, hold and roll back; subscribers.

Each function runs in a fresh (spawned) interpreter: it sets Django up against the session's
PostgreSQL test database, does its work and puts its findings on a queue.
"""

from __future__ import annotations

import os
import random
import time
from datetime import timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as StopSignal
from typing import Any

from event_sourcery import NO_VERSIONING, Event, StreamId

DATABASE = "postgres"
TIME_LIMIT = 0.2
GAP_RETRY = 0.3
HOLD_SECONDS = 0.45
"""Held transactions outlast both the time limit and ``gap_retry_interval``."""


class StressPlaced(Event):
    """An event of the first type."""

    __event_name__ = "eventhex.stress.Placed"

    writer: int
    seq: int
    part: int


class StressShipped(Event):
    """An event of the second type (the event-type subscriber wants only these)."""

    __event_name__ = "eventhex.stress.Shipped"

    writer: int
    seq: int
    part: int


class _RollBack(Exception):
    pass


def _setup(database: dict[str, Any]) -> Any:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.django_adapter.settings"
    import django

    django.setup()
    from django.db import connections

    connections[DATABASE].settings_dict.update(database)
    from eventhex_django_adapter import DjangoBackend, DjangoConfig

    config = DjangoConfig(database=DATABASE, gap_retry_interval=timedelta(seconds=GAP_RETRY))
    return DjangoBackend().configure(config)


def write(database: dict[str, Any], writer: int, transactions: int, results: Queue[Any]) -> None:
    """Append ``transactions`` transactions; report (writer, seq, parts, committed, begin, end).

    Every sixth transaction is held open for ``HOLD_SECONDS``; every fifth rolls back.
    """
    backend = _setup(database)
    from django.db import connections, transaction

    rng = random.Random(writer)
    log = []
    for seq in range(transactions):
        category = ("alpha", "beta")[(seq + writer) % 2]
        stream = StreamId(name=f"stress-{category}-{writer}-{seq % 3}", category=category)
        kinds = [rng.choice((StressPlaced, StressShipped)) for _ in range(rng.randint(1, 3))]
        events = [kind(writer=writer, seq=seq, part=n) for n, kind in enumerate(kinds)]
        hold, roll_back = seq % 6 == 3, seq % 5 == 4
        begin = time.monotonic()
        try:
            with transaction.atomic(using=DATABASE):
                backend.event_store.append(
                    *events, stream_id=stream, expected_version=NO_VERSIONING
                )
                if hold:
                    time.sleep(HOLD_SECONDS)
                if roll_back:
                    raise _RollBack
        except _RollBack:
            pass
        end = time.monotonic()
        log.append((writer, seq, len(events), not roll_back, begin, end))
        time.sleep(rng.random() * 0.01)
    connections.close_all()
    results.put(("writer", writer, log))


def subscribe(
    database: dict[str, Any], kind: str, start: int, stop: StopSignal, results: Queue[Any]
) -> None:
    """Read from ``start`` until an empty read that began after ``stop`` was set.

    ``kind`` is ``all`` (batches of 16), ``category`` (``alpha``, one event at a time with
    ``build_iter``), ``types`` (``StressShipped``, batches of 5) or ``late`` (everything in
    batches of 8, starting once ``LATE_AFTER`` events are stored: it catches up, reading
    ahead, while the writers go on). Reports (writer, seq, part, position) per received
    event, in order, and how many pages were read ahead.
    """
    backend = _setup(database)
    from django.db import connections

    read_ahead = _count_read_ahead()
    subscriber = backend.subscriber.start_from(start)
    received: list[tuple[int, int, int, int]] = []
    if kind == "category":
        events = subscriber.to_category("alpha").build_iter(TIME_LIMIT)
        while True:
            finished = stop.is_set()
            record = next(events)
            if record is None:
                if finished:
                    break
                continue
            received.append(_key(record))
    else:
        if kind == "late":
            _wait_for_stored(LATE_AFTER)
        built = (
            subscriber.build_batch({"all": 16, "late": 8}[kind], TIME_LIMIT)
            if kind != "types"
            else subscriber.to_events([StressShipped]).build_batch(5, TIME_LIMIT)
        )
        while True:
            finished = stop.is_set()
            batch = next(built)
            received.extend(_key(record) for record in batch)
            if finished and not batch:
                break
    connections.close_all()
    results.put(("subscriber", kind, received, len(read_ahead)))


LATE_AFTER = 64


def _wait_for_stored(count: int) -> None:
    from eventhex_django_adapter.models import Event as EventRow

    deadline = time.monotonic() + 60
    while EventRow.objects.using(DATABASE).count() < count and time.monotonic() < deadline:
        time.sleep(0.02)


def _count_read_ahead() -> list[int]:
    """Record the size of every page read ahead in this process (the reads run as they do),
    pages of any size being read ahead (the stress test's are small)."""
    from eventhex_django_adapter._subscription import read_ahead, reads

    read_ahead.SMALLEST_PAGE = 1

    sizes: list[int] = []
    real = reads.build_while_reading

    def counted(*args: Any, **kwargs: Any) -> Any:
        built, rows = real(*args, **kwargs)
        if rows is not None:
            sizes.append(len(rows))
        return built, rows

    reads.build_while_reading = counted
    return sizes


def _key(record: Any) -> tuple[int, int, int, int]:
    event = record.wrapped_event.event
    return (event.writer, event.seq, event.part, record.position)
