"""``DjangoConfig(notifications=False)``: appends send no PostgreSQL notification, for events
and outbox entries alike (``notify.sql``), and subscribers still receive them by polling."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from event_sourcery import StreamId
from event_sourcery.event import Event

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
