"""Migration 0002: the event and snapshot tables lose the ``stream_id`` indexes that their
``(stream_id, version)`` indexes cover, without locking writers out on PostgreSQL."""

import re
import threading
import time
from io import StringIO
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.test import override_settings
from event_sourcery import StreamId
from event_sourcery.event import WrappedEvent

from eventhex_core_ports.testing.events import ContractItemAdded
from eventhex_django_adapter import checks

from ._bare import OnlyTo
from .conftest import backend_on

pytestmark = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")

BOTH = [["stream_id"], ["stream_id", "version"]]
COVERING = [["stream_id", "version"]]


def _stream_indexes(alias: str, table: str) -> list[list[str]]:
    connection = connections[alias]
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return sorted(
        found["columns"]
        for found in constraints.values()
        if (found["index"] or found["unique"]) and found["columns"][0] == "stream_id"
    )


def _migrate(alias: str, target: str) -> None:
    call_command("migrate", "eventhex", target, database=alias, verbosity=0)


def test_the_covered_indexes_go_forwards_and_come_back_backwards(bare: str) -> None:
    _migrate(bare, "0001")
    assert _stream_indexes(bare, "eventhex_event") == BOTH
    assert _stream_indexes(bare, "eventhex_snapshot") == BOTH

    _migrate(bare, "0002")
    assert _stream_indexes(bare, "eventhex_event") == COVERING
    assert _stream_indexes(bare, "eventhex_snapshot") == COVERING

    _migrate(bare, "0001")
    assert _stream_indexes(bare, "eventhex_event") == BOTH
    assert _stream_indexes(bare, "eventhex_snapshot") == BOTH


def test_a_database_at_0001_is_asked_to_migrate_without_being_told_it_fails(bare: str) -> None:
    """Only a missing initial migration means missing tables; 0002 is an upgrade step."""
    with override_settings(DATABASE_ROUTERS=[OnlyTo(bare)]):
        call_command("migrate", database=bare, verbosity=0)
        _migrate(bare, "0001")
        (message,) = checks.check_migrations_applied()

    assert message.id == "eventhex.W003"
    assert "lacks 1 eventhex migration (eventhex.0002_drop_covered_stream_indexes)" in message.msg
    assert message.msg.endswith("the eventhex version installed expects it.")
    assert "fail" not in message.msg


@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"])
def test_sqlmigrate_prints_the_concurrent_drops() -> None:
    out = StringIO()
    call_command("sqlmigrate", "eventhex", "0002", database="postgres", stdout=out)

    assert re.findall(r"DROP INDEX CONCURRENTLY IF EXISTS \"(\w+)\"", out.getvalue()) == [
        "eventhex_event_stream_id_f91aafad",
        "eventhex_snapshot_stream_id_6ea69e08",
    ]


def _waiting_for_a_lock(admin: psycopg.Connection[Any], database: str) -> bool:
    row = admin.execute(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = %s AND wait_event_type = 'Lock' AND query LIKE 'DROP INDEX%%'",
        (database,),
    ).fetchone()
    return bool(row and row[0])


@pytest.mark.postgres
def test_appends_go_on_while_the_migration_waits_for_an_open_transaction(
    bare_postgres: str,
) -> None:
    """A plain ``DROP INDEX`` queued behind a reader would block every append after it."""
    alias = bare_postgres
    _migrate(alias, "0001")
    configured = settings.DATABASES[alias]
    connect = {
        "host": configured["HOST"],
        "port": configured["PORT"],
        "user": configured["USER"],
        "dbname": configured["NAME"],
    }
    failures: list[BaseException] = []

    def migrate() -> None:
        try:
            _migrate(alias, "0002")
        except BaseException as error:  # reported by the assertion below
            failures.append(error)
        finally:
            connections[alias].close()

    with (
        psycopg.connect(**connect) as reader,
        psycopg.connect(**connect, autocommit=True) as admin,
    ):
        reader.execute("SELECT count(*) FROM eventhex_event")  # holds its lock until commit
        migration = threading.Thread(target=migrate)
        migration.start()
        for _ in range(500):
            if _waiting_for_a_lock(admin, connect["dbname"]):
                break
            time.sleep(0.01)
        else:
            pytest.fail("the migration never waited for the open transaction")

        with connections[alias].cursor() as cursor:
            cursor.execute("SET statement_timeout = '5s'")
        event = WrappedEvent(event=ContractItemAdded(item="during"), version=1)
        backend_on(alias).event_store.append(event, stream_id=StreamId(), expected_version=0)
        assert migration.is_alive()

        reader.commit()
        migration.join(timeout=30)

    assert not migration.is_alive()
    assert failures == []
    assert _stream_indexes(alias, "eventhex_event") == COVERING
    assert _stream_indexes(alias, "eventhex_snapshot") == COVERING
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM eventhex_event")
        assert cursor.fetchone() == (1,)
