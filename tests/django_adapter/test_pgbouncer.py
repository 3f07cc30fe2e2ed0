"""The adapter behind a real PgBouncer in transaction pooling (issue 27).

Debian's PgBouncer 1.18 with its defaults (no ``max_prepared_statements``) and two server
connections, shared by several threads that append, load, read and catch up (reading pages
ahead in pipelines) at once with the adapter's statements prepared (the default). Each
transaction may land on another server connection, so a statement one client prepared is
missing for another, or already there under its name. The adapter must either work or raise
``PreparedStatementsUnavailable`` naming the fix: never a raw ``ProgrammingError``, and never
another client's statement run with its parameters (every stored event is checked against what
its thread appended).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connections, transaction
from event_sourcery import StreamId
from eventhex_devtools.pgbouncer import ThrowawayPgBouncer

from eventhex_core_ports.testing.events import ContractItemAdded
from eventhex_django_adapter import DjangoBackend, _db
from eventhex_django_adapter._db import PreparedStatementsUnavailable, forget_shared_sessions
from eventhex_django_adapter._subscription import read_ahead, reads
from eventhex_django_adapter.models import Event
from tests.reliability._report import report

from .conftest import backend_on

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(databases=["postgres", "pgbouncer"], transaction=True),
]

BOUNCED = "pgbouncer"
THREADS = 4
ROUNDS = 60


@pytest.fixture
def bounced(pgbouncer: ThrowawayPgBouncer) -> Iterator[str]:
    """The alias ``pgbouncer`` pointed at the Django test database through PgBouncer, for
    worker threads (the main thread's connection mirrors ``postgres``)."""
    settings = connections.settings[BOUNCED]
    saved = dict(settings)
    settings.update(
        NAME=connections["postgres"].settings_dict["NAME"],
        HOST=pgbouncer.host,
        PORT=str(pgbouncer.port),
    )
    forget_shared_sessions()
    try:
        yield BOUNCED
    finally:
        pgbouncer.drop_server_connections(settings["NAME"])  # the test database is dropped later
        settings.clear()
        settings.update(saved)
        forget_shared_sessions()


@pytest.fixture
def pages_read_ahead(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many pages were read ahead, by any thread (the reads run as they do), pages of any
    size being read ahead."""
    monkeypatch.setattr(read_ahead, "SMALLEST_PAGE", 1)
    read: list[int] = []
    real = reads.build_while_reading

    def counted(*args: object, **kwargs: object) -> object:
        built, rows = real(*args, **kwargs)  # type: ignore[arg-type]
        if rows is not None:
            read.append(len(rows))
        return built, rows

    monkeypatch.setattr(reads, "build_while_reading", counted)
    return read


class Worker(threading.Thread):
    """Appends to its own stream (in autocommit and inside transactions), loads it back,
    reads the category and catches up on it in small pages, ``ROUNDS`` times; keeps what it
    wrote and every error it met."""

    def __init__(
        self, number: int, category: str, keep_preparing: bool = False, **config: object
    ) -> None:
        super().__init__(name=f"bounced-{number}")
        self.keep_preparing = keep_preparing
        self.stream = StreamId(name=f"worker-{number}", category=category)
        self.category = category
        self.config = config
        self.written: list[str] = []
        self.errors: list[BaseException] = []
        self.unavailable = 0

    def run(self) -> None:
        backend = backend_on(BOUNCED, **self.config)
        try:
            for round_ in range(ROUNDS):
                self._step(backend, round_)
        finally:
            connections.close_all()

    def _step(self, backend: DjangoBackend, round_: int) -> None:
        items = [f"{self.name}-{round_}-{n}" for n in range(1 + round_ % 2)]
        store = backend.event_store
        if self.keep_preparing:  # undo the adapter's retreat: every round prepares again
            forget_shared_sessions()
        try:
            if round_ % 3 == 2:  # one transaction, two statements
                with transaction.atomic(using=BOUNCED):
                    for n, item in enumerate(items):
                        version = len(self.written) + n
                        event = ContractItemAdded(item=item)
                        store.append(event, stream_id=self.stream, expected_version=version)
            else:
                events = [ContractItemAdded(item=item) for item in items]
                store.append(*events, stream_id=self.stream, expected_version=len(self.written))
            self.written.extend(items)
            loaded = [e.event.item for e in store.load_stream(self.stream)]
            assert loaded == self.written, "a load returned events that were not appended"
            if round_ % 4 == 0:  # a subscription's read (it waits its time limit when caught up)
                batch = backend.subscriber.start_from(0).to_category(self.category)
                read = next(batch.build_batch(10_000, timedelta(seconds=0.1)))
                mine = [r.wrapped_event.event.item for r in read if r.stream_id == self.stream]
                assert mine == self.written, "a read returned events that were not appended"
            if round_ % 4 == 1:
                assert self._catch_up(backend) == self.written, "a catch-up lost or added events"
        except PreparedStatementsUnavailable as error:
            if "prepared_statements=False" not in str(error):
                self.errors.append(error)
            self.unavailable += 1
        except BaseException as error:  # collected: the test names every one
            self.errors.append(error)

    def _catch_up(self, backend: DjangoBackend) -> list[str]:
        """Read the category in pages of three (each next one read ahead) until this thread's
        events are in, or a while has passed."""
        pages = backend.subscriber.start_from(0).to_category(self.category)
        built = pages.build_batch(3, timedelta(seconds=0.1))
        mine: list[str] = []
        deadline = time.monotonic() + 10
        while len(mine) < len(self.written) and time.monotonic() < deadline:
            page = next(built)
            mine += [r.wrapped_event.event.item for r in page if r.stream_id == self.stream]
        return mine


def run_workers(category: str, keep_preparing: bool = False, **config: object) -> list[Worker]:
    workers = [Worker(n, category, keep_preparing, **config) for n in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=240)
    assert not any(worker.is_alive() for worker in workers)
    return workers


def assert_stored_as_written(workers: list[Worker]) -> None:
    for worker in workers:
        stored = Event.objects.using("postgres").filter(stream__name=worker.stream.name)
        items = [data["item"] for data in stored.order_by("id").values_list("data", flat=True)]
        assert items == worker.written


@pytest.mark.parametrize("keep_preparing", [False, True], ids=["as shipped", "keep preparing"])
def test_prepared_statements_behind_transaction_pooling_never_fail_raw(
    bounced: str, keep_preparing: bool, pages_read_ahead: list[int]
) -> None:
    fault = f"PgBouncer transaction pooling, prepared statements ({keep_preparing=})"
    report.injected(fault, THREADS * ROUNDS)
    workers = run_workers(f"bounced-{keep_preparing}", keep_preparing)

    errors = Counter(f"{type(e).__name__}: {e}"[:160] for w in workers for e in w.errors)
    assert errors == Counter(), "raw errors behind PgBouncer"
    assert_stored_as_written(workers)  # nobody ran another client's statement
    assert sum(len(worker.written) for worker in workers) > 0
    assert pages_read_ahead  # catch-ups read ahead, in pipelines through the pooler
    unavailable = sum(worker.unavailable for worker in workers)
    print(f"PreparedStatementsUnavailable: {unavailable} of {THREADS * ROUNDS} rounds")
    if not keep_preparing:
        assert BOUNCED in _db._shared_sessions  # statements were lost, and preparing stopped
        assert unavailable <= THREADS  # only transactions running at the first loss fail
    report.survived(fault, THREADS * ROUNDS)
    report.checked_events(sum(len(worker.written) for worker in workers), lost=0)


def test_without_prepared_statements_every_operation_works(
    bounced: str, pages_read_ahead: list[int]
) -> None:
    workers = run_workers("unprepared", prepared_statements=False)

    assert [(w.errors, w.unavailable) for w in workers] == [([], 0)] * THREADS
    assert_stored_as_written(workers)
    assert sum(len(worker.written) for worker in workers) == THREADS * ROUNDS * 3 // 2
    assert pages_read_ahead
