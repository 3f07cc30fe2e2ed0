"""The adapter prepares its own statements on PostgreSQL, and only its own.

Django's default ``OPTIONS`` turn psycopg's preparation off; the adapter's append, load and
subscription read are prepared anyway (``DjangoConfig.prepared_statements``), the project's ORM
queries are not, and a pooler that loses a prepared statement gets an error naming the setting.
"""

import pytest
from django.db import connections
from event_sourcery import StreamId

from eventhex_core_ports.testing.events import ContractItemAdded
from eventhex_django_adapter._db import PreparedStatementsUnavailable
from eventhex_django_adapter.models import Stream

from .conftest import backend_on, on_postgres

pytestmark = on_postgres


def _prepared() -> list[str]:
    with connections["postgres"].cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def _use(backend_config: dict[str, object]) -> None:
    backend = backend_on("postgres", **backend_config)
    stream = StreamId(category="prepared")
    backend.event_store.append(ContractItemAdded(item="a"), stream_id=stream)
    backend.event_store.load_stream(stream)
    next(backend.subscriber.start_from(0).to_category("prepared").build_batch(5, 0.1))
    assert Stream.objects.using("postgres").filter(category="prepared").count() == 1


def test_the_adapters_statements_are_prepared_under_djangos_default_options() -> None:
    assert connections["postgres"].settings_dict["OPTIONS"].get("prepare_threshold") is None

    _use({})

    prepared = _prepared()
    assert any("INSERT INTO eventhex_event" in sql for sql in prepared)  # the append
    assert any("eventhex_load_stream" in sql for sql in prepared)  # the stream load
    assert any("eventhex_read_category" in sql for sql in prepared)  # the subscription page
    assert not any("COUNT(*)" in sql for sql in prepared)  # the ORM's count stays unprepared
    assert connections["postgres"].connection.prepare_threshold is None


def test_nothing_is_prepared_when_switched_off() -> None:
    _use({"prepared_statements": False})

    assert _prepared() == []


def test_a_lost_prepared_statement_names_the_setting() -> None:
    backend = backend_on("postgres")
    stream = StreamId(category="prepared")
    backend.event_store.append(ContractItemAdded(item="a"), stream_id=stream)
    # What a transaction-mode pooler does: the next statement runs in a session that never
    # prepared it.
    with connections["postgres"].cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")

    with pytest.raises(PreparedStatementsUnavailable, match=r"prepared_statements=False"):
        backend.event_store.append(ContractItemAdded(item="b"), stream_id=StreamId())
