"""PostgreSQL: ids are not commit order; subscriptions deliver in commit order anyway."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta

import pytest
from event_sourcery.event import Recorded

from eventhex_django_adapter.config import DjangoConfig
from eventhex_django_adapter.models import Event
from eventhex_django_adapter.subscription import (
    DjangoSubscriptionStrategy,
    subscription_lag_blockers,
)
from tests.django_adapter.subscriptions.conftest import (
    QUICK,
    HeldTransaction,
    Noted,
    make_backend,
    new_stream,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(databases=["postgres"], transaction=True),
]

Hold = Callable[[str], HeldTransaction]


def labels(records: Sequence[Recorded | None]) -> list[str | None]:
    return [r.wrapped_event.event.label if r else None for r in records]  # type: ignore[attr-defined]


def event_ids(*labels_: str) -> list[int]:
    by_label = {row.data["label"]: row.pk for row in Event.objects.using("postgres").all()}
    return [by_label[label] for label in labels_]


def test_an_earlier_id_committing_later_is_delivered_not_skipped(
    hold_transaction: Hold,
) -> None:
    backend = make_backend("postgres")
    start = backend.event_store.position or 0
    batches = backend.subscriber.start_from(start).build_batch(10, QUICK)
    slow = hold_transaction("postgres")
    slow.run(lambda: backend.event_store.append(Noted(label="slow"), stream_id=new_stream()))

    backend.event_store.append(Noted(label="fast"), stream_id=new_stream())
    before = next(batches)
    slow.end("commit")
    after = next(batches)

    slow_id, fast_id = event_ids("slow", "fast")
    assert slow_id < fast_id
    assert before == []
    assert labels(after) == ["slow", "fast"]
    assert next(batches) == []


def test_a_reader_that_caught_up_still_gets_an_older_transaction_committing_late(
    hold_transaction: Hold,
) -> None:
    backend = make_backend("postgres")
    start = backend.event_store.position or 0
    events = backend.subscriber.start_from(start).build_iter(QUICK)
    backend.event_store.append(Noted(label="first"), stream_id=new_stream())
    assert labels([next(events)]) == ["first"]
    slow = hold_transaction("postgres")
    slow.run(lambda: backend.event_store.append(Noted(label="slow"), stream_id=new_stream()))
    backend.event_store.append(Noted(label="fast"), stream_id=new_stream())

    while_held = next(events)
    slow.end("commit")
    received = [next(events), next(events), next(events)]

    assert while_held is None
    assert labels(received) == ["slow", "fast", None]


def test_rolled_back_events_are_never_delivered_and_do_not_block(
    hold_transaction: Hold,
) -> None:
    backend = make_backend("postgres")
    start = backend.event_store.position or 0
    doomed = hold_transaction("postgres")
    doomed.run(lambda: backend.event_store.append(Noted(label="doomed"), stream_id=new_stream()))
    backend.event_store.append(Noted(label="kept"), stream_id=new_stream())

    doomed.end("rollback")
    received = next(backend.subscriber.start_from(start).build_batch(10, QUICK))

    assert labels(received) == ["kept"]


def test_the_store_position_never_passes_an_event_that_may_still_commit(
    hold_transaction: Hold,
) -> None:
    backend = make_backend("postgres")
    slow = hold_transaction("postgres")
    slow.run(lambda: backend.event_store.append(Noted(label="slow"), stream_id=new_stream()))
    backend.event_store.append(Noted(label="fast"), stream_id=new_stream())

    position = backend.event_store.position
    slow.end("commit")
    received = next(backend.subscriber.start_from(position or 0).build_batch(10, QUICK))

    assert labels(received) == ["slow", "fast"]


def test_a_notification_wakes_a_waiting_reader_long_before_the_fallback_poll(
    hold_transaction: Hold,
) -> None:
    # Polling every 60 s and a 30 s time limit: the event can only arrive inside this batch
    # through LISTEN/NOTIFY (the writer appends after the reader has started waiting).
    backend = make_backend("postgres", gap_retry=60)
    start = backend.event_store.position or 0
    writer = hold_transaction("postgres")
    writer.run(lambda: backend.event_store.append(Noted(label="woke"), stream_id=new_stream()))
    events = backend.subscriber.start_from(start).build_iter(30)
    committer = threading.Thread(target=_commit_after_a_moment, args=(writer,))
    committer.start()

    record = next(events)

    committer.join()
    assert labels([record]) == ["woke"]


def _commit_after_a_moment(held: HeldTransaction) -> None:
    time.sleep(0.3)  # let the reader reach its wait first (either order must work)
    held.end("commit")


def test_a_long_transaction_holding_readers_back_is_named_in_a_warning_and_the_gauge(
    hold_transaction: Hold, caplog: pytest.LogCaptureFixture
) -> None:
    backend = make_backend("postgres")
    strategy = DjangoSubscriptionStrategy(
        DjangoConfig(database="postgres"), lag_warning_after=timedelta(0)
    )
    start = backend.event_store.position or 0
    blocker = hold_transaction("postgres")
    blocker.run(lambda: backend.event_store.append(Noted(label="held"), stream_id=new_stream()))
    backend.event_store.append(Noted(label="waiting"), stream_id=new_stream())
    batches = strategy.subscribe_to_all(start, 10, timedelta(seconds=QUICK))

    with caplog.at_level(logging.WARNING, logger="eventhex_django_adapter.subscription"):
        held_back = next(batches)
    gauge_while_held = subscription_lag_blockers("postgres")
    blocker.end("commit")
    released = next(batches)
    gauge_after = subscription_lag_blockers("postgres")

    assert held_back == []
    assert blocker.pid in [b.pid for b in gauge_while_held]
    assert f"backend pid {blocker.pid}" in caplog.text
    assert [r.entry.data["label"] for r in released] == ["held", "waiting"]
    assert blocker.pid not in [b.pid for b in gauge_after]
