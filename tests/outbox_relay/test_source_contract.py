"""The OutboxSource contract, run against the in-memory source and the Django source on SQLite
and on the session's PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from eventhex_core_ports.in_memory.relay_source import InMemoryOutboxSource
from eventhex_core_ports.ports.relay import OutboxSource
from eventhex_core_ports.testing.relay_source import EnqueueEntry, OutboxSourceContract


class TestInMemoryOutboxSource(OutboxSourceContract):
    @pytest.fixture
    def outbox_source(self) -> InMemoryOutboxSource:
        return InMemoryOutboxSource()

    @pytest.fixture
    def enqueue(self, outbox_source: InMemoryOutboxSource) -> EnqueueEntry:
        def add(
            stream_uuid: UUID,
            *,
            tenant_id: str = "",
            stream_category: str = "",
            max_attempts: int = 3,
            context: dict[str, Any] | None = None,
            data: dict[str, Any] | None = None,
        ) -> int:
            message = outbox_source.enqueue(
                event_name="Thing",
                version=1,
                stream_uuid=stream_uuid,
                tenant_id=tenant_id,
                stream_category=stream_category,
                max_attempts=max_attempts,
                context=context,
                data=data,
            )
            return message.entry_id

        return add


def django_enqueue(database: str) -> EnqueueEntry:
    """Writes outbox rows as the Django adapter's append does."""
    from django.utils import timezone

    from eventhex_django_adapter._codec import to_db
    from eventhex_django_adapter.models import OutboxEntry

    def add(
        stream_uuid: UUID,
        *,
        tenant_id: str = "",
        stream_category: str = "",
        max_attempts: int = 3,
        context: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
    ) -> int:
        now = timezone.now()
        entry = OutboxEntry.objects.using(database).create(
            event_uuid=uuid4(),
            event_name="Thing",
            stream_uuid=stream_uuid,
            stream_category=stream_category,
            tenant_id=tenant_id,
            version=1,
            position=Decimal(2**70 + 5),
            created_at=to_db(datetime.now(UTC)),
            data=data or {},
            context=context or {},
            max_attempts=max_attempts,
            enqueued_at=now,
        )
        return int(entry.pk)

    return add


class DjangoSourceFixtures:
    database: str

    @pytest.fixture
    def outbox_source(self) -> Iterator[OutboxSource]:
        from eventhex_django_adapter.relay_source import DjangoOutboxSource

        source = DjangoOutboxSource(database=self.database)
        yield source
        source.close()

    @pytest.fixture
    def enqueue(self) -> EnqueueEntry:
        return django_enqueue(self.database)


@pytest.mark.django_db(databases=["default"])
class TestDjangoOutboxSourceOnSQLite(DjangoSourceFixtures, OutboxSourceContract):
    database = "default"


@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"])
class TestDjangoOutboxSourceOnPostgres(DjangoSourceFixtures, OutboxSourceContract):
    database = "postgres"


@pytest.mark.django_db(databases=["default"])
class TestDjangoOutboxSourceWithoutTimeZones(DjangoSourceFixtures, OutboxSourceContract):
    """``USE_TZ = False``: naive local datetimes in the database, aware UTC in messages."""

    database = "default"

    @pytest.fixture(autouse=True)
    def _naive_datetimes(self, settings: Any) -> None:
        settings.USE_TZ = False
        settings.TIME_ZONE = "America/New_York"
