"""The Python peer: eventsourcing 9.5.6 on its PostgreSQL recorder, through its documented API.

Configured as its documentation says, by environment (``PERSISTENCE_MODULE`` =
``eventsourcing.postgres`` and the ``POSTGRES_*`` keys), with no aggregate cache, no snapshots,
no cipher and no compressor; psycopg binary as for every contender; one pooled connection per
process (each process is single-threaded, as a Django worker with its one connection). The
events carry the same payload as the other contenders' (``w``, ``seq``, 64-character ``pad``).

What it guarantees: every ``Application.save`` is one transaction that takes
``LOCK TABLE ... IN EXCLUSIVE MODE`` on its events table and ``NOTIFY``s, so writers run one at
a time and notification ids are in commit order; readers never wait. eventhex lets writers run
concurrently and has readers wait for older transactions instead.
"""

from __future__ import annotations

import statistics
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from psycopg.conninfo import conninfo_to_dict

from benchmarks._events import PAD
from benchmarks._measured import measured, watch_backend
from benchmarks.floor import reset_peak_rss, rss_kib

Result = dict[str, Any]


class Ledger(Aggregate):
    """An aggregate whose every event carries the comparison payload."""

    @event("Opened")
    def __init__(self, w: int, seq: int, pad: str) -> None:
        self.seq = seq

    @event("Written")
    def write(self, w: int, seq: int, pad: str) -> None:
        """Record one more ``Written`` event."""
        self.seq = seq


class LedgerApplication(Application[UUID]):
    """The application; its notification log hands out sections of up to 500."""

    log_section_size = 500


def environment(dsn: str, create_table: bool = True) -> dict[str, str]:
    """eventsourcing's configuration for the database at ``dsn``."""
    info = conninfo_to_dict(dsn)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(info["dbname"]),
        "POSTGRES_HOST": str(info.get("host", "127.0.0.1")),
        "POSTGRES_PORT": str(info.get("port", "5432")),
        "POSTGRES_USER": str(info.get("user", "postgres")),
        "POSTGRES_PASSWORD": "",
        "POSTGRES_POOL_SIZE": "1",
        "CREATE_TABLE": "y" if create_table else "n",
    }


def application(dsn: str, create_table: bool = True) -> LedgerApplication:
    """A :class:`LedgerApplication` on the database at ``dsn``."""
    app = LedgerApplication(env=environment(dsn, create_table))
    with app.recorder.datastore.get_connection() as connection:  # type: ignore[attr-defined]
        watch_backend(connection.info.backend_pid)  # the pool's one connection
    return app


def new_ledger(events: int, w: int = 0, seq: int = 0) -> Ledger:
    """A new, unsaved aggregate with ``events`` pending events (the first opens it)."""
    ledger = Ledger(w=w, seq=seq, pad=PAD)
    for i in range(1, events):
        ledger.write(w=w, seq=seq + i, pad=PAD)
    return ledger


def saves(dsn: str, n: int, size: int) -> Result:
    """``n`` saves of a new aggregate with ``size`` events (each save one transaction)."""
    app = application(dsn)
    app.save(new_ledger(size))  # warm-up
    ledgers = [new_ledger(size, seq=i * size) for i in range(n)]
    with measured() as clock:
        for ledger in ledgers:
            app.save(ledger)
    elapsed = clock.seconds
    app.close()
    return {"value": n * size / elapsed, "unit": "events/s", "events": n * size}


def _aggregate(app: LedgerApplication, events: int, per_save: int = 100) -> UUID:
    """Save an aggregate of ``events`` events, ``per_save`` at a time."""
    ledger = new_ledger(min(per_save, events))
    app.save(ledger)
    for first in range(per_save, events, per_save):
        for seq in range(first, min(first + per_save, events)):
            ledger.write(w=0, seq=seq, pad=PAD)
        app.save(ledger)
    return ledger.id


def load(dsn: str, n: int, loads: int = 7) -> Result:
    """``repository.get`` of an ``n``-event aggregate ``loads`` times; median milliseconds."""
    app = application(dsn)
    ledger_id = _aggregate(app, n)
    assert app.repository.get(ledger_id).version == n  # warm-up and sanity
    times = []
    for _ in range(loads):
        with measured() as clock:
            ledger = app.repository.get(ledger_id)
        times.append(clock.seconds)
        assert ledger.version == n
    app.close()
    return {"value": statistics.median(times) * 1000, "unit": "ms", "events": n}


def catch_up(dsn: str, n: int, batch: int = 500) -> Result:
    """Save ``n`` events (aggregates of 100), then read the notification log from the start in
    sections of ``batch``, each notification mapped to its domain event."""
    app = application(dsn)
    for first in range(0, n, 100):
        app.save(new_ledger(min(100, n - first), seq=first))
    log, to_domain_event = app.notification_log, app.mapper.to_domain_event
    before = reset_peak_rss()
    received, start = 0, 1
    with measured() as clock:
        while received < n:
            notifications = log.select(start, batch)
            events = [to_domain_event(notification) for notification in notifications]
            received += len(events)
            start = notifications[-1].id + 1
    elapsed = clock.seconds
    peak = rss_kib("VmHWM")
    app.close()
    return {
        "value": received / elapsed,
        "unit": "events/s",
        "events": received,
        "rss_growth_mib": (peak - before) / 1024,
    }


SCENARIOS = {
    "append_single": lambda dsn, n: saves(dsn, n, 1),
    "append_batch10": lambda dsn, n: saves(dsn, n, 10),
    "load_1000": load,
    "catchup": catch_up,
}
"""The scenarios the peer runs, by the comparison groups' names."""
