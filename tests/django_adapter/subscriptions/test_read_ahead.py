"""Reading the next page while this page's records are built (ADR 0023), on PostgreSQL.

Most tests read pages of five with ``SMALLEST_PAGE`` lowered to one (``small_pages``), to keep
them quick; two read at the real size. The concurrent case (writers committing, holding and
rolling back while a subscription catches up reading ahead) is in ``test_stress.py``.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import pytest
from django.db import connections, transaction
from event_sourcery import Event, StreamId
from event_sourcery.encryption import DataSubject, Encrypted
from event_sourcery.event import Recorded

from eventhex_django_adapter import DjangoKeyStorage
from eventhex_django_adapter._subscription import read_ahead, reads
from eventhex_django_adapter._subscription.read_ahead import ReadAhead, build_while_reading
from eventhex_django_adapter._subscription.reads import EventSelection, read_after
from eventhex_django_adapter.models import Event as EventRow
from tests.django_adapter.subscriptions.conftest import QUICK, Noted, make_backend, new_stream
from tests.projection_app.backends import XorCipher

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(databases=["postgres"], transaction=True),
]

ALIAS = "postgres"
FAILS_WHEN_RUN = "SELECT 1 / (%s - 1)"
"""Fails on the server, after it was sent: the divisor is a parameter."""


def labels(records: list[Any]) -> list[str]:
    return [r.wrapped_event.event.label for r in records]


def pipeline_off() -> bool:
    import psycopg

    raw = connections[ALIAS].connection
    return bool(raw.pgconn.pipeline_status == psycopg.pq.PipelineStatus.OFF)


@pytest.fixture(autouse=True)
def connected() -> None:
    """``build_while_reading`` runs on an open connection (``reads`` checks that first)."""
    connections[ALIAS].ensure_connection()


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read pages of any size ahead."""
    monkeypatch.setattr(read_ahead, "SMALLEST_PAGE", 1)


@pytest.fixture
def pages_read_ahead(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """The size of every page read ahead (None: the read failed); the reads run as they do."""
    sizes: list[int | None] = []
    real = reads.build_while_reading

    def counted(*args: Any, **kwargs: Any) -> Any:
        built, rows = real(*args, **kwargs)
        sizes.append(None if rows is None else len(rows))
        return built, rows

    monkeypatch.setattr(reads, "build_while_reading", counted)
    return sizes


@pytest.mark.parametrize("selection", ["all", "category", "event types"])
def test_a_subscription_catching_up_reads_each_next_page_ahead_and_misses_nothing(
    pages_read_ahead: list[int | None], selection: str, small_pages: None
) -> None:
    backend = make_backend(ALIAS)
    start = backend.event_store.position or 0
    for n in range(47):  # one stream and one transaction each
        backend.event_store.append(Noted(label=str(n)), stream_id=new_stream("ahead"))

    subscriber = backend.subscriber.start_from(start)
    if selection == "category":
        subscriber = subscriber.to_category("ahead")
    elif selection == "event types":
        subscriber = subscriber.to_events([Noted])
    batches = subscriber.build_batch(5, QUICK)
    received: list[Recorded] = []
    while len(received) < 47:
        received.extend(next(batches))

    assert labels(received) == [str(n) for n in range(47)]
    positions = [r.position for r in received]
    assert positions == sorted(set(positions))
    # pages 3 to 9 were read while 2 to 8 were built; page 10 (two events) ends at the tail,
    # so it was read ahead, dropped and read again
    assert pages_read_ahead == [5, 5, 5, 5, 5, 5, 5, 2]


def test_a_subscription_asked_for_one_or_two_pages_reads_nothing_ahead(
    pages_read_ahead: list[int | None], small_pages: None
) -> None:
    backend = make_backend(ALIAS)
    start = backend.event_store.position or 0
    backend.event_store.append(*(Noted(label=str(n)) for n in range(12)), stream_id=new_stream())

    batches = backend.subscriber.start_from(start).build_batch(5, QUICK)
    first = next(batches)

    assert labels(first) == ["0", "1", "2", "3", "4"]
    assert pages_read_ahead == []
    assert labels(next(batches)) == ["5", "6", "7", "8", "9"]
    assert pages_read_ahead == [2]  # asked for a second full page: now catching up


def test_a_short_page_read_ahead_is_not_kept_so_later_events_are_read_afresh(
    small_pages: None,
) -> None:
    backend = make_backend(ALIAS)
    start = backend.event_store.position or 0
    stream = new_stream()
    backend.event_store.append(*(Noted(label=str(n)) for n in range(10)), stream_id=stream)
    ahead = ReadAhead()

    first = read_after(ALIAS, EventSelection(), start, 5, ahead=ahead)
    second = read_after(ALIAS, EventSelection(), first[-1].position, 5, ahead=ahead)
    backend.event_store.append(
        *(Noted(label=f"late {n}") for n in range(3)), stream_id=stream, expected_version=10
    )
    third = read_after(ALIAS, EventSelection(), second[-1].position, 5, ahead=ahead)

    assert [r.entry.data["label"] for r in first + second] == [str(n) for n in range(10)]
    assert [r.entry.data["label"] for r in third] == ["late 0", "late 1", "late 2"]


def _append_many(backend: Any, count: int) -> None:
    for start in range(0, count, 100):
        events = [Noted(label=str(n)) for n in range(start, min(start + 100, count))]
        backend.event_store.append(*events, stream_id=new_stream("many"))


def test_pages_of_the_smallest_size_read_ahead_are_read_ahead(
    pages_read_ahead: list[int | None],
) -> None:
    backend = make_backend(ALIAS)
    start = backend.event_store.position or 0
    _append_many(backend, 1000)
    size = read_ahead.SMALLEST_PAGE
    assert size == 200  # the size measured (finding 24)

    batches = backend.subscriber.start_from(start).build_batch(size, QUICK)
    received = [record for _ in range(5) for record in next(batches)]

    assert labels(received) == [str(n) for n in range(1000)]
    assert pages_read_ahead == [size, size, size, 0]  # pages 3 to 5, then the tail


def test_smaller_pages_are_read_plainly(pages_read_ahead: list[int | None]) -> None:
    backend = make_backend(ALIAS)
    start = backend.event_store.position or 0
    _append_many(backend, 1000)
    size = read_ahead.SMALLEST_PAGE - 1

    batches = backend.subscriber.start_from(start).build_batch(size, QUICK)
    received = [record for _ in range(5) for record in next(batches)]

    assert labels(received) == [str(n) for n in range(size * 5)]
    assert pages_read_ahead == []


class Whispered(Event):
    """An event with a field encrypted per data subject."""

    __event_name__ = "eventhex.read_ahead_test.Whispered"

    subject: Annotated[str, DataSubject]
    secret: Annotated[str, Encrypted(mask_value="[shredded]")]


def test_fields_are_decrypted_while_the_next_page_is_read_and_a_page_read_ahead_before_a_key_was_shredded_comes_shredded(  # noqa: E501
    pages_read_ahead: list[int | None], small_pages: None
) -> None:
    keys = DjangoKeyStorage(database=ALIAS)
    backend = make_backend(ALIAS).with_encryption(XorCipher(), keys)
    start = backend.event_store.position or 0
    subject = f"bob-{os.urandom(4).hex()}"
    keys.store(subject, os.urandom(32))
    stream = StreamId(name=f"whispers-{subject}")
    backend.event_store.append(
        *(Whispered(subject=subject, secret=f"s{n}") for n in range(15)), stream_id=stream
    )

    batches = backend.subscriber.start_from(start).build_batch(5, QUICK)
    first, second = next(batches), next(batches)  # the second was built with the third on its way
    keys.delete(subject)
    third = next(batches)

    assert [r.wrapped_event.event.secret for r in first + second] == [f"s{n}" for n in range(10)]
    # the third page was read ahead before the shredding (then the fourth, empty, and dropped)
    assert pages_read_ahead == [5, 0]
    assert [r.wrapped_event.event.secret for r in third] == ["[shredded]"] * 5


def test_a_failed_read_ahead_is_dropped_before_the_building_code_queries() -> None:
    stored = EventRow.objects.using(ALIAS).count()
    runs: list[int] = []

    def build() -> int:
        runs.append(len(runs))
        return EventRow.objects.using(ALIAS).count()

    built, rows = build_while_reading(ALIAS, FAILS_WHEN_RUN, [1], True, False, build)

    assert (built, rows) == (stored, None)
    assert runs == [0]  # the query did not meet the read's error: built once
    assert pipeline_off()
    assert EventRow.objects.using(ALIAS).count() == stored


def test_building_code_that_opens_a_transaction_runs_again_after_the_read_ahead() -> None:
    """psycopg refuses to leave autocommit while a read is on its way: the page is built again
    once it has arrived, and the rows read ahead are dropped."""
    backend = make_backend(ALIAS)
    stream = new_stream()
    runs: list[int] = []

    def build() -> str:
        with transaction.atomic(using=ALIAS):
            backend.event_store.append(Noted(label="from a build"), stream_id=stream)
            runs.append(len(runs))
        return "built"

    built, rows = build_while_reading(ALIAS, "SELECT 1", [], True, False, build)

    assert (built, rows) == ("built", None)
    assert runs == [0]  # the first try failed before its transaction began
    assert [e.event.label for e in backend.event_store.load_stream(stream)] == ["from a build"]
    assert pipeline_off()
    assert connections[ALIAS].get_autocommit()


def test_an_error_of_the_building_code_reaches_the_reader_with_the_connection_usable() -> None:
    tries: list[int] = []

    def build() -> None:
        tries.append(len(tries))
        raise ValueError("this event is not valid")

    with pytest.raises(ValueError, match="this event is not valid"):
        build_while_reading(ALIAS, "SELECT 1", [], True, False, build)

    assert tries == [0, 1]  # the second time without the read on its way
    assert pipeline_off()
    with connections[ALIAS].cursor() as cursor:
        cursor.execute("SELECT 41 + 1")
        assert cursor.fetchone() == (42,)
