"""Fixtures for the subscription tests: a backend per database, and writers on other threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections, transaction
from event_sourcery import Event, StreamId

from eventhex_django_adapter import DjangoBackend, DjangoConfig

QUICK = 0.2
"""Time limit in seconds for reads expected to find their events at once (the minimum is 0.1)."""


class Noted(Event):
    """A test event with a label."""

    __event_name__ = "eventhex.subscriptions_test.Noted"

    label: str


class Flagged(Event):
    """A second test event type, for event-type subscriptions."""

    __event_name__ = "eventhex.subscriptions_test.Flagged"

    label: str


def make_backend(database: str, gap_retry: float = 0.5) -> DjangoBackend:
    """A configured backend on ``database``."""
    config = DjangoConfig(database=database, gap_retry_interval=timedelta(seconds=gap_retry))
    return DjangoBackend().configure(config)


@pytest.fixture(
    params=[
        pytest.param("default", marks=pytest.mark.django_db(databases=["default"])),
        pytest.param(
            "postgres", marks=[pytest.mark.django_db(databases=["postgres"]), pytest.mark.postgres]
        ),
    ]
)
def database(request: pytest.FixtureRequest) -> str:
    """Each test runs on SQLite and on PostgreSQL, inside pytest-django's test transaction."""
    return str(request.param)


@pytest.fixture(
    params=[
        pytest.param(
            "default", marks=pytest.mark.django_db(databases=["default"], transaction=True)
        ),
        pytest.param(
            "postgres",
            marks=[
                pytest.mark.django_db(databases=["postgres"], transaction=True),
                pytest.mark.postgres,
            ],
        ),
    ]
)
def committed_database(request: pytest.FixtureRequest) -> str:
    """Each test runs on SQLite and on PostgreSQL with real commits (no test transaction)."""
    return str(request.param)


@pytest.fixture
def backend(database: str) -> DjangoBackend:
    """A backend on the test's database."""
    return make_backend(database)


class HeldTransaction:
    """A transaction on another thread (so another connection) that stays open until told.

    ``append`` runs inside it; ``commit()`` or ``rollback()`` ends it.
    """

    def __init__(self, database: str) -> None:
        self._database = database
        self._jobs: list[tuple[Callable[[], Any], threading.Event]] = []
        self._wake = threading.Condition()
        self._outcome: str | None = None
        self._error: BaseException | None = None
        self.pid: int | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            try:
                with transaction.atomic(using=self._database):
                    connection = connections[self._database]
                    if connection.vendor == "postgresql":
                        with connection.cursor() as cursor:
                            cursor.execute("SELECT pg_backend_pid()")
                            self.pid = int(cursor.fetchone()[0])
                    while True:
                        with self._wake:
                            self._wake.wait_for(lambda: self._jobs or self._outcome)
                            jobs, self._jobs = self._jobs, []
                        for job, done in jobs:
                            job()
                            done.set()
                        if self._outcome is not None and not self._jobs:
                            break
                    if self._outcome == "rollback":
                        raise _RolledBack
            except _RolledBack:
                pass
        except BaseException as error:
            self._error = error
        finally:
            connections.close_all()

    def run(self, job: Callable[[], Any]) -> None:
        """Run ``job`` inside the held transaction and wait for it."""
        done = threading.Event()
        with self._wake:
            self._jobs.append((job, done))
            self._wake.notify_all()
        done.wait(30)
        if self._error is not None:
            raise self._error

    def end(self, outcome: str) -> None:
        """``"commit"`` or ``"rollback"`` the transaction and wait until it has ended."""
        with self._wake:
            self._outcome = outcome
            self._wake.notify_all()
        self._thread.join(30)
        if self._error is not None:
            raise self._error


class _RolledBack(Exception):
    pass


@pytest.fixture
def hold_transaction() -> Iterator[Callable[[str], HeldTransaction]]:
    """Open transactions on other threads; any left open are rolled back at the end."""
    held: list[HeldTransaction] = []

    def start(database: str) -> HeldTransaction:
        transaction_ = HeldTransaction(database)
        held.append(transaction_)
        return transaction_

    yield start
    for transaction_ in held:
        if transaction_._thread.is_alive():
            transaction_.end("rollback")


def new_stream(category: str | None = None) -> StreamId:
    """A fresh stream id."""
    return StreamId(category=category)
