"""``DjangoConfig(notifications=False)``: appends send no PostgreSQL notification, for events
and outbox entries alike (``notify.sql``), while the other appends of their
transaction still notify; subscribers receive quiet appends by polling."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.db import transaction
from event_sourcery import StreamId
from event_sourcery.event import Event
from event_sourcery.exceptions import ConcurrentStreamWriteError

from eventhex_django_adapter._storage.quiet import held_quiet
from tests.reliability._report import report

from .conftest import backend_on

pytestmark = [pytest.mark.django_db(databases=["postgres"], transaction=True), pytest.mark.postgres]

CHANNELS = ("eventhex_events", "eventhex_outbox")


class Pinged(Event):
    n: int


@pytest.fixture
def listener(postgresql_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(postgresql_dsn, autocommit=True) as connection:
        for channel in CHANNELS:
            connection.execute(f"LISTEN {channel}")
        yield connection


def _heard(listener: psycopg.Connection[Any], seconds: float = 0.5) -> set[str]:
    return {notice.channel for notice in listener.notifies(timeout=seconds, stop_after=2)}


def _append(notifications: bool, n: int) -> None:
    backend = backend_on("postgres", notifications=notifications).with_outbox()
    backend.event_store.append(Pinged(n=n), stream_id=StreamId(name=f"ping-{n}-{notifications}"))


def test_appends_notify_by_default(listener: psycopg.Connection[Any]) -> None:
    _append(True, 1)
    assert _heard(listener) == set(CHANNELS)


def test_quiet_appends_send_no_notification(listener: psycopg.Connection[Any]) -> None:
    _append(False, 2)
    assert _heard(listener) == set()
    _append(True, 3)  # the setting lasted only for the quiet append's transaction
    assert _heard(listener) == set(CHANNELS)


def test_a_subscriber_finds_quiet_appends_by_polling() -> None:
    reader = backend_on("postgres", gap_retry_interval=timedelta(seconds=0.2))
    subscription = reader.subscriber.start_from(0).build_iter(timelimit=0.5)
    while next(subscription) is not None:
        pass  # caught up: now waiting for a notification that will not come
    _append(False, 4)
    received = None
    for _ in range(20):  # twenty time limits: room for a loaded machine
        received = next(subscription)
        if received is not None:
            break
    assert received is not None
    assert received.wrapped_event.event == Pinged(n=4)


def _count(listener: psycopg.Connection[Any], seconds: float = 0.5) -> dict[str, int]:
    """How many notifications each channel received (PostgreSQL folds a transaction's
    duplicates into one)."""
    counts = dict.fromkeys(CHANNELS, 0)
    for notice in listener.notifies(timeout=seconds, stop_after=10):
        counts[notice.channel] += 1
    return counts


ONE_EACH = dict.fromkeys(CHANNELS, 1)
NONE = dict.fromkeys(CHANNELS, 0)


@pytest.mark.parametrize(
    ("order", "heard"),
    [
        ((False, True), ONE_EACH),
        ((True, False), ONE_EACH),
        ((False,), NONE),
        ((False, False), NONE),
        ((True, True), ONE_EACH),
    ],
    ids=["quiet-then-normal", "normal-then-quiet", "quiet", "quiet-twice", "normal-twice"],
)
def test_a_quiet_append_silences_only_itself_in_its_transaction(
    listener: psycopg.Connection[Any], order: tuple[bool, ...], heard: dict[str, int]
) -> None:
    report.tried("quiet append beside others in one transaction")
    with transaction.atomic(using="postgres"):
        for n, notifications in enumerate(order, start=10):
            _append(notifications, n)
    assert _count(listener) == heard
    report.handled("quiet append beside others in one transaction")


def test_an_append_that_writes_no_outbox_row_leaves_the_outbox_trigger_armed(
    listener: psycopg.Connection[Any],
) -> None:
    quiet_without_outbox = backend_on("postgres", notifications=False)
    with transaction.atomic(using="postgres"):
        quiet_without_outbox.event_store.append(Pinged(n=20), stream_id=StreamId(name="ping-20"))
        _append(True, 21)
    assert _count(listener) == ONE_EACH


def test_a_failed_quiet_append_leaves_the_transaction_notifying(
    listener: psycopg.Connection[Any],
) -> None:
    quiet = backend_on("postgres", notifications=False).with_outbox()
    stream = StreamId(name="ping-30")
    quiet.event_store.append(Pinged(n=30), stream_id=stream)
    assert _count(listener) == NONE
    with transaction.atomic(using="postgres"):
        with pytest.raises(ConcurrentStreamWriteError):
            quiet.event_store.append(Pinged(n=31), stream_id=stream, expected_version=5)
        _append(True, 32)
    assert _count(listener) == ONE_EACH


def test_the_slow_path_holds_its_quiet_until_its_inserts_are_done(
    listener: psycopg.Connection[Any],
) -> None:
    with transaction.atomic(using="postgres"), held_quiet("postgres", quiet=True):
        _append(True, 40)  # several statements: all of them silent
        _append(True, 41)
    assert _count(listener) == NONE
    with transaction.atomic(using="postgres"):
        with held_quiet("postgres", quiet=True):
            _append(True, 42)
        _append(True, 43)
    assert _count(listener) == ONE_EACH
