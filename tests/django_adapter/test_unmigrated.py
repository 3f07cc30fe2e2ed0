"""A database that ``migrate`` never ran on: ``check`` says so (eventhex.W003) and every
append, read, subscription and relay claim fails with ``SchemaNotMigrated`` naming the fix."""

from __future__ import annotations

import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import DatabaseError, connections
from django.test import override_settings
from event_sourcery import StreamId
from event_sourcery.event import WrappedEvent
from eventhex_devtools.postgres import PostgresServer

from eventhex_core_ports.ports.relay import OutboxSourceUnusable
from eventhex_core_ports.testing.events import ContractItemAdded
from eventhex_django_adapter import SchemaNotMigrated, checks
from eventhex_django_adapter._db import unmigrated
from eventhex_django_adapter.projections import ProjectionRunner, load_projections
from eventhex_django_adapter.projections.models import ParkedEvent, ProjectionState
from eventhex_django_adapter.relay_source import DjangoOutboxSource
from tests.outbox_relay._servers import free_port
from tests.projection_app import REGISTERED

from ._bare import OnlyTo, database, postgres_settings
from .conftest import backend_on

pytestmark = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")


def _append(alias: str) -> None:
    event = WrappedEvent(event=ContractItemAdded(item="x"), version=1)
    backend_on(alias).event_store.append(event, stream_id=StreamId(), expected_version=0)


def _explains(error: pytest.ExceptionInfo[BaseException], alias: str) -> None:
    text = str(error.value)
    assert f"the eventhex tables or functions are missing in database {alias!r}" in text
    assert text.endswith(f"run `python manage.py migrate --database {alias}`")


def test_check_reports_the_unapplied_migrations(bare: str) -> None:
    with override_settings(DATABASE_ROUTERS=[OnlyTo(bare)]):
        messages = checks.check_migrations_applied()

    assert [message.id for message in messages] == ["eventhex.W003"]
    assert f"Database {bare!r} lacks" in messages[0].msg
    assert "eventhex.0001_initial" in messages[0].msg
    assert messages[0].hint == f"Run `python manage.py migrate --database {bare}`."


def test_check_leaves_no_sqlite_file_behind(bare_sqlite: str) -> None:
    with override_settings(DATABASE_ROUTERS=[OnlyTo(bare_sqlite)]):
        assert checks.check_migrations_applied() != []

    assert not Path(settings.DATABASES[bare_sqlite]["NAME"]).exists()


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.postgres
@pytest.mark.parametrize("alias", ["default", "postgres"])
def test_check_is_quiet_on_migrated_databases(alias: str) -> None:
    with override_settings(DATABASE_ROUTERS=[OnlyTo(alias)]):
        assert checks.check_migrations_applied() == []


@pytest.mark.parametrize("command", ["migrate", "test"])
def test_check_is_quiet_when_migrate_runs_the_checks(
    bare_sqlite: str, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``migrate`` (and the test runner) run the checks for the databases they migrate next."""
    monkeypatch.setattr(sys, "argv", ["manage.py", command])
    with override_settings(DATABASE_ROUTERS=[OnlyTo(bare_sqlite)]):
        assert checks.check_migrations_applied(databases=[bare_sqlite]) == []
        monkeypatch.setattr(sys, "argv", ["manage.py", "check"])
        assert checks.check_migrations_applied(databases=[bare_sqlite]) != []


@pytest.mark.postgres
def test_check_is_quiet_when_the_database_is_unreachable(
    postgresql_server: PostgresServer, django_db_blocker: Any
) -> None:
    with (
        django_db_blocker.unblock(),
        database("nowhere", postgres_settings(postgresql_server, "x", port=free_port())) as alias,
        override_settings(DATABASE_ROUTERS=[OnlyTo(alias)]),
    ):
        assert checks.check_migrations_applied() == []


def test_an_append_names_migrate(bare: str) -> None:
    with pytest.raises(SchemaNotMigrated) as error:
        _append(bare)

    _explains(error, bare)
    assert isinstance(error.value, DatabaseError)


def test_a_stream_read_names_migrate(bare: str) -> None:
    with pytest.raises(SchemaNotMigrated) as error:
        backend_on(bare).event_store.load_stream(StreamId())

    _explains(error, bare)


def test_a_subscription_names_migrate(bare: str) -> None:
    batches = backend_on(bare).subscriber.start_from(0).build_batch(10, timedelta(seconds=0.1))
    with pytest.raises(SchemaNotMigrated) as error:
        next(iter(batches))

    _explains(error, bare)


def test_the_relay_source_is_unusable_not_failing(bare: str) -> None:
    source = DjangoOutboxSource(database=bare)
    try:
        with pytest.raises(OutboxSourceUnusable, match=r"run `python manage\.py migrate"):
            source.claim("relay", 10, timedelta(seconds=5))
        with pytest.raises(OutboxSourceUnusable, match=r"run `python manage\.py migrate"):
            source.stats()
    finally:
        source.close()


def test_a_projects_own_missing_table_stays_its_own_error(bare_sqlite: str) -> None:
    with pytest.raises(DatabaseError) as error, connections[bare_sqlite].cursor() as cursor:
        cursor.execute("SELECT * FROM shop_order")

    assert "no such table: shop_order" in str(error.value)
    assert unmigrated(error.value, bare_sqlite) is None


@pytest.mark.parametrize("tables", ["none", "the projections' only"])
def test_the_projection_runner_stops_with_the_fix(bare: str, tables: str, settings: Any) -> None:
    """Without any table the runner fails at start; with its own tables but not the events'
    its workers fail on their first read, and the runner stops with that error."""
    settings.EVENTHEX_PROJECTIONS = REGISTERED
    if tables != "none":
        with connections[bare].schema_editor() as editor:
            editor.create_model(ProjectionState)
            editor.create_model(ParkedEvent)
    stop = threading.Event()
    runner = ProjectionRunner(load_projections(), backend_on(bare), stop, claim_interval=0.05)
    try:
        with pytest.raises(SchemaNotMigrated) as error:
            runner.run()
    finally:
        stop.set()

    _explains(error, bare)
    assert runner.owned() == []
