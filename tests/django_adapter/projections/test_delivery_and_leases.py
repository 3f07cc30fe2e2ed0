"""At-least-once delivery runs handlers outside transactions; SQLite runs one runner at a time."""

from typing import ClassVar

import pytest
from django.db import connections
from event_sourcery.event import Recorded

from eventhex_django_adapter.projections import Projection, projection_statuses
from eventhex_django_adapter.projections.models import ProjectionState
from tests.django_adapter.projections.conftest import (
    append_events,
    backend_for,
    running,
)
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


class Mails(Projection):
    """An outside effect: records the uuids it "sent" and whether a transaction was open."""

    name = "test.mails"
    delivery = "at_least_once"
    sent: ClassVar[list[str]] = []
    in_transaction: ClassVar[list[bool]] = []
    alias: ClassVar[str] = "default"

    def handle(self, record: Recorded) -> None:
        type(self).in_transaction.append(connections[self.alias].in_atomic_block)
        type(self).sent.append(str(record.wrapped_event.uuid))


def test_at_least_once_handlers_run_outside_a_transaction_once_each(alias: str) -> None:
    Mails.sent, Mails.in_transaction, Mails.alias = [], [], alias
    backend = backend_for(alias)
    append_events(backend, 15)

    with running(backend, [Mails()]):
        wait_for(lambda: len(Mails.sent) == 15, "15 mails")
        wait_for(lambda: projection_statuses(backend, [Mails()])[0].lag_events == 0, "checkpoint")

    assert len(set(Mails.sent)) == 15
    assert not any(Mails.in_transaction)
    assert ProjectionState.objects.using(alias).get(name="test.mails").applied == 15


@pytest.mark.django_db(databases=["default"], transaction=True)
def test_on_sqlite_one_runner_works_and_another_stands_by() -> None:
    Mails.sent, Mails.in_transaction, Mails.alias = [], [], "default"
    backend = backend_for("default")
    append_events(backend, 5)

    with running(backend, [Mails()]) as first:
        wait_for(lambda: len(Mails.sent) == 5, "the first runner's mails")
        with running(backend, [Mails()]) as second:
            append_events(backend, 5, start=5)
            wait_for(lambda: len(Mails.sent) == 10, "more mails")
            assert first.owned() == ["test.mails"]
            assert second.owned() == []
    # The first runner released its lease on the way out; a new one takes over at once.
    with running(backend, [Mails()]) as third:
        append_events(backend, 5, start=10)
        wait_for(lambda: len(Mails.sent) == 15, "the third runner's mails")
        assert third.owned() == ["test.mails"]
    assert len(set(Mails.sent)) == 15
