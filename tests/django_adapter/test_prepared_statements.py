"""The adapter prepares its own statements on PostgreSQL, and only its own.

Django's default ``OPTIONS`` turn psycopg's preparation off; the adapter's append, load and
subscription read are prepared anyway (``DjangoConfig.prepared_statements``), the project's ORM
queries are not, and a pooler that loses a prepared statement gets an error naming the setting
inside a transaction, a retry without preparing outside one. Statements are named after their
text (ADR 0019). Behind a real PgBouncer: ``test_pgbouncer.py``.
"""

import hashlib
import logging
from collections.abc import Iterator

import pytest
from django.db import connections
from event_sourcery import StreamId

from eventhex_core_ports.testing.events import ContractItemAdded
from eventhex_django_adapter._db import PreparedStatementsUnavailable, forget_shared_sessions
from eventhex_django_adapter.models import Stream

from .conftest import backend_on, on_postgres

pytestmark = on_postgres


@pytest.fixture(autouse=True)
def _prepare_again() -> Iterator[None]:
    """A lost statement turns preparing off for the alias in this process: not for the next
    test."""
    forget_shared_sessions()
    yield
    forget_shared_sessions()


def _prepared() -> list[str]:
    return [statement for _, statement, _ in _prepared_rows()]


def _prepared_rows() -> list[tuple[str, str, list[str]]]:
    """Each prepared statement's name, text and parameter types (``regtype`` names)."""
    with connections["postgres"].cursor() as cursor:
        cursor.execute(
            "SELECT name, statement, parameter_types::text[] FROM pg_prepared_statements"
        )
        return [(row[0], row[1], row[2]) for row in cursor.fetchall()]


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


def test_statements_are_named_after_their_text() -> None:
    _use({})

    rows = _prepared_rows()
    assert rows
    digests = {}
    for name, statement, _ in rows:
        prefix, digest, counter = name.split("_")
        assert (prefix, len(digest), counter.isdigit()) == ("eventhex", 32, True), name
        digests.setdefault(statement, set()).add(digest)
    # one text, one digest; different texts, different digests: a name never means two SQLs
    assert all(len(found) == 1 for found in digests.values())
    assert len({d for found in digests.values() for d in found}) == len(digests)


def test_the_digest_is_the_statement_text_and_parameter_types() -> None:
    import psycopg

    raw = connections["postgres"]
    raw.ensure_connection()
    from eventhex_django_adapter._db import adapter_statements

    with adapter_statements(raw.connection, True, "postgres"), psycopg.Cursor(raw.connection) as c:
        c.execute("SELECT %s::int + 1", [41])
        assert c.fetchone() == (42,)
    [(name, statement, _)] = [row for row in _prepared_rows() if "+ 1" in row[1]]
    expected = hashlib.blake2b(
        statement.encode() + b"\0" + str(psycopg.adapters.types["int2"].oid).encode(),
        digest_size=16,
    ).hexdigest()
    assert name.startswith(f"eventhex_{expected}_")


@pytest.mark.django_db(databases=["postgres"], transaction=True)
def test_a_lost_statement_outside_a_transaction_is_run_again_unprepared(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = backend_on("postgres")
    backend.event_store.append(ContractItemAdded(item="a"), stream_id=StreamId())
    assert _prepared()
    with connections["postgres"].cursor() as cursor:  # a pooler's next session
        cursor.execute("DEALLOCATE ALL")
    stream = StreamId()

    with caplog.at_level(logging.WARNING, logger="eventhex_django_adapter.db"):
        backend.event_store.append(ContractItemAdded(item="b"), stream_id=stream)

    assert [e.event.item for e in backend.event_store.load_stream(stream)] == ["b"]
    assert "stops preparing statements on database 'postgres'" in caplog.text
    assert "prepared_statements=False" in caplog.text
    with connections["postgres"].cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    backend.event_store.append(ContractItemAdded(item="c"), stream_id=stream, expected_version=1)
    assert _prepared() == []  # nothing prepared on this alias any more
