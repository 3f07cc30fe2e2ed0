"""Corrupt outbox rows meet the relay: dead-lettered with the reason while the rest flows.

What the relay's own tests already prove is not repeated here (see the report): SIGKILL mid-batch
and two relays at once (``tests/outbox_relay/test_processes.py``), Redis and NATS stopped and
restarted (``tests/outbox_relay/test_brokers.py``), an unreachable broker costing no attempts and
dead-lettering after exactly ``max_attempts`` (``tests/outbox_relay/test_relay_loop.py``). A
PostgreSQL crash under a running relay is in ``test_postgres_restart.py``.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from django.db import connections

from eventhex_core_ports.ports.relay import OutboxMessage, Publisher, PublishOutcome
from eventhex_django_adapter.models import OutboxEntry
from eventhex_django_adapter.relay_source import DjangoOutboxSource
from eventhex_outbox_relay import Relay

from ._report import ReliabilityReport

pytestmark = pytest.mark.django_db(databases=["default", "postgres"], transaction=True)


class RecordingPublisher(Publisher):
    """Delivers everything it is given, and remembers it."""

    def __init__(self) -> None:
        self.messages: list[OutboxMessage] = []

    def publish(self, messages: Sequence[OutboxMessage]) -> list[PublishOutcome]:
        self.messages.extend(messages)
        return [PublishOutcome(m.entry_id, True) for m in messages]


def _entry(alias: str, data: object, name: str = "Tick") -> OutboxEntry:
    now = datetime.now(UTC)
    return OutboxEntry.objects.using(alias).create(
        event_uuid=uuid4(),
        event_name=name,
        stream_uuid=uuid4(),
        stream_category="corrupt",
        version=1,
        position=Decimal(1),
        created_at=now,
        data=data,
        context={},
        max_attempts=3,
        enqueued_at=now,
    )


CORRUPTIONS = {
    # PostgreSQL's column types admit only semantic damage: a JSON string where an object belongs
    "postgres: data is a JSON string": ("postgres", None),
    # SQLite checks JSON_VALID, but its uuid column is plain text a manual edit can break
    "sqlite: event uuid is not a uuid": (
        "default",
        "UPDATE eventhex_outboxentry SET event_uuid = 'not-a-uuid' ",
    ),
    # deeper than Python's json decodes (issue 27); SQLite's JSON_VALID stops at 2,000 levels
    "postgres: data nested 5,000 deep": (
        "postgres",
        "UPDATE eventhex_outboxentry SET data = '" + "[" * 5000 + "]" * 5000 + "'::jsonb ",
    ),
    "sqlite: data nested 1,500 deep": (
        "default",
        "UPDATE eventhex_outboxentry SET data = '" + "[" * 1500 + "]" * 1500 + "' ",
    ),
}


@pytest.mark.parametrize(("label", "corruption"), CORRUPTIONS.items(), ids=list(CORRUPTIONS))
def test_a_corrupt_outbox_row_is_dead_lettered_and_the_rest_is_delivered(
    reliability: ReliabilityReport, label: str, corruption: tuple[str, str | None]
) -> None:
    alias, damage = corruption
    good = [_entry(alias, {"n": n}) for n in range(3)]
    corrupt = _entry(alias, "{this is not json" if damage is None else {"n": -1})
    if damage is not None:
        with connections[alias].cursor() as cursor:
            cursor.execute(damage + "WHERE id = %s", [corrupt.pk])
    publisher = RecordingPublisher()
    source = DjangoOutboxSource(alias)
    relay = Relay(source, publisher, owner="reliability", poll_interval=0.01)
    reliability.tried(f"corrupt outbox row: {label}")
    for _ in range(3):
        try:
            relay.step()
        except Exception:  # the relay's run loop logs such a failure and goes on
            connections[alias].close_if_unusable_or_obsolete()
    assert sorted(m.event_uuid for m in publisher.messages) == sorted(e.event_uuid for e in good)
    [dead] = source.dead_letters()
    assert dead.entry_id == corrupt.pk
    assert dead.last_error
    reliability.handled(f"corrupt outbox row: {label}")
