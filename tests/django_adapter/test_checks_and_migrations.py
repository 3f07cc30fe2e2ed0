"""System checks, shipped migrations and the management command."""

import re
from importlib import import_module
from io import StringIO

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django.test import override_settings

from eventhex_django_adapter import DjangoBackend, DjangoConfig, checks
from eventhex_django_adapter.migration_operations import sql_file

APPS = ("eventhex", "eventhex_projections")
INITIAL = import_module("eventhex_django_adapter.migrations.0001_initial")


class OnlyTo:
    """A database router that sends the eventhex app's migrations to ``aliases`` only."""

    def __init__(self, *aliases: str) -> None:
        self.aliases = aliases

    def allow_migrate(self, db: str, app_label: str, **hints: object) -> bool | None:
        return db in self.aliases if app_label == "eventhex" else None


def _ids(messages: list[object]) -> list[str]:
    return [message.id for message in messages]  # type: ignore[attr-defined]


def test_configuring_an_unknown_alias_fails_at_once() -> None:
    with pytest.raises(ImproperlyConfigured) as error:
        DjangoBackend().configure(DjangoConfig(database="nowhere"))

    assert "DjangoConfig(database='nowhere')" in str(error.value)
    assert "known aliases: ['default', 'pgbouncer', 'postgres']" in str(error.value)


def test_the_test_databases_pass_the_alias_checks() -> None:
    assert checks.check_aliases() == []
    with override_settings(DATABASE_ROUTERS=[OnlyTo("default", "postgres")]):
        assert checks.check_aliases() == []


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_an_unsupported_engine_that_eventhex_migrates_to_is_reported() -> None:
    databases = {
        "default": connections["default"].settings_dict,
        "legacy": {"ENGINE": "django.db.backends.dummy"},
        "missing": {"ENGINE": "no.such.backend"},
        "elsewhere": {"ENGINE": "django.db.backends.dummy"},
    }
    routers = [OnlyTo("default", "legacy", "missing")]
    with override_settings(DATABASES=databases, DATABASE_ROUTERS=routers):
        messages = checks.check_aliases()

    assert _ids(messages) == ["eventhex.E002", "eventhex.E002"]
    assert ["'legacy'" in messages[0].msg, "'missing'" in messages[1].msg] == [True, True]
    assert all("PostgreSQL and SQLite only" in message.msg for message in messages)


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_without_routers_only_default_is_checked() -> None:
    databases = {
        "default": connections["default"].settings_dict,
        "legacy": {"ENGINE": "django.db.backends.dummy"},
    }
    with override_settings(DATABASES=databases):
        assert checks.check_aliases() == []


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_sqlite_without_immediate_transactions_gets_a_warning() -> None:
    plain = {**connections["default"].settings_dict, "OPTIONS": {}}
    with override_settings(DATABASES={"default": plain}):
        messages = checks.check_aliases()

    assert _ids(messages) == ["eventhex.W001"]


@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"])
def test_postgres_version_is_checked_against_13(monkeypatch: pytest.MonkeyPatch) -> None:
    assert checks.check_server_version(databases=["postgres"]) == []
    assert checks.check_server_version(databases=None) == []
    monkeypatch.setattr(checks, "MIN_POSTGRESQL", 990000)  # pretend the server is too old
    (error,) = checks.check_server_version(databases=["postgres"])
    assert error.id == "eventhex.E003"
    assert "PostgreSQL 13 or newer" in error.msg
    with override_settings(DATABASE_ROUTERS=[OnlyTo("default")]):
        assert checks.check_server_version(databases=["postgres"]) == []


@pytest.mark.django_db(databases=["default"])
def test_models_and_migrations_agree() -> None:
    out = StringIO()
    call_command("makemigrations", *APPS, "--check", "--dry-run", stdout=out, stderr=out)

    assert "No changes detected" in out.getvalue()


def test_each_app_starts_from_one_initial_migration_in_one_line() -> None:
    graph = MigrationLoader(None, ignore_no_migrations=True).graph

    for app in APPS:
        (leaf,) = graph.leaf_nodes(app)
        line = [node for node in graph.forwards_plan(leaf) if node[0] == app]
        assert line[0] == (app, "0001_initial")
        assert sorted(line) == sorted(node for node in graph.nodes if node[0] == app)
    parents = graph.node_map[("eventhex_projections", "0001_initial")].parents
    assert ("eventhex", "0001_initial") in {parent.key for parent in parents}


def _created_functions(sql: str) -> set[str]:
    return set(re.findall(r"CREATE FUNCTION (eventhex_\w+)", sql))


@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"])
def test_sqlmigrate_prints_every_statement_the_migration_runs() -> None:
    out = StringIO()
    call_command("sqlmigrate", "eventhex", "0001", database="postgres", stdout=out)
    printed = out.getvalue()
    with connections["postgres"].cursor() as cursor:
        cursor.execute("SELECT proname FROM pg_proc WHERE proname LIKE 'eventhex%'")
        installed = {name for (name,) in cursor.fetchall()}
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'eventhex%'"
        )
        triggers = {name for (name,) in cursor.fetchall()}

    assert "CANNOT BE WRITTEN AS SQL" not in printed
    assert _created_functions(printed) == installed
    assert set(re.findall(r"CREATE TRIGGER (eventhex_\w+)", printed)) == triggers
    assert "CREATE TABLE eventhex_position_shift" in printed


def test_unapplying_the_initial_migration_drops_every_function_it_created() -> None:
    created = "".join(sql_file(path) for path in INITIAL.SQL_FILES)
    dropped = set(re.findall(r"DROP FUNCTION IF EXISTS (eventhex_\w+)", sql_file("0001/drop.sql")))

    assert _created_functions(created) == dropped


def test_projections_without_their_app_are_an_error() -> None:
    installed = [app for app in settings.INSTALLED_APPS if app != checks.PROJECTIONS_APP]
    with override_settings(INSTALLED_APPS=installed, EVENTHEX_PROJECTIONS=["x.Projection"]):
        (error,) = checks.check_projections_app()

    assert error.id == "eventhex.E004"
    assert checks.PROJECTIONS_APP in (error.hint or "")
    with override_settings(EVENTHEX_PROJECTIONS=["x.Projection"]):
        assert checks.check_projections_app() == []


@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"])
def test_postgres_events_default_to_their_transaction_id() -> None:
    with connections["postgres"].cursor() as cursor:
        cursor.execute(
            "SELECT column_default FROM information_schema.columns "
            "WHERE table_name = 'eventhex_event' AND column_name = 'tx_id'"
        )
        (default,) = cursor.fetchone()

    assert "eventhex_tx_id" in default


@pytest.mark.django_db(databases="__all__")
def test_status_command_reports_counts(alias: str) -> None:
    backend = DjangoBackend().configure(DjangoConfig(database=alias)).with_outbox()
    from event_sourcery import StreamId

    from eventhex_core_ports.testing.events import ContractItemAdded

    backend.event_store.append(ContractItemAdded(item="a"), stream_id=StreamId())
    out = StringIO()

    call_command("eventhex_status", database=alias, stdout=out)

    report = out.getvalue()
    assert f"database: {alias}" in report
    assert "events: 1" in report
    assert "outbox pending: 1" in report
