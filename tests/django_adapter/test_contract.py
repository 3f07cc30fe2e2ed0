"""The core-ports contract kit against the Django adapter, on SQLite and on PostgreSQL."""

import gc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connections, transaction

from eventhex_core_ports.ports.relay import OutboxSource
from eventhex_core_ports.testing import (
    ConcurrentWritersContract,
    CursorsContract,
    InTransactionContract,
    KeyStorageContract,
    OutboxContract,
    StorageContract,
    SubscriptionContract,
    UpcastingContract,
)
from eventhex_core_ports.testing.storage import CallerTransaction
from eventhex_django_adapter import DjangoBackend, DjangoCursorsDao, DjangoKeyStorage
from eventhex_django_adapter.relay_source import DjangoOutboxSource

from .conftest import backend_on, on_postgres, on_sqlite


def _factory(alias: str) -> Callable[[int], DjangoBackend]:
    return lambda attempts: backend_on(alias, outbox_attempts=attempts)


def _relay_sources(alias: str) -> Iterator[Callable[[DjangoBackend], OutboxSource]]:
    """The relay's source on ``alias``; its LISTEN connection is closed afterwards."""
    opened: list[DjangoOutboxSource] = []

    def source(backend: DjangoBackend) -> OutboxSource:
        opened.append(DjangoOutboxSource(database=alias))
        return opened[-1]

    yield source
    for each in opened:
        each.close()


@on_sqlite
class TestStorageSQLite(StorageContract):
    @pytest.fixture
    def backend(self) -> DjangoBackend:
        return backend_on("default")

    @pytest.fixture
    def caller_transaction(self) -> CallerTransaction:
        return lambda: transaction.atomic(using="default")


class TestStoragePostgres(StorageContract):
    pytestmark = on_postgres

    @pytest.fixture
    def backend(self) -> DjangoBackend:
        return backend_on("postgres")

    @pytest.fixture
    def caller_transaction(self) -> CallerTransaction:
        return lambda: transaction.atomic(using="postgres")


@on_sqlite
class TestInTransactionSQLite(InTransactionContract):
    @pytest.fixture
    def backend(self) -> DjangoBackend:
        return backend_on("default")


class TestInTransactionPostgres(InTransactionContract):
    pytestmark = on_postgres

    @pytest.fixture
    def backend(self) -> DjangoBackend:
        return backend_on("postgres")


@on_sqlite
class TestOutboxSQLite(OutboxContract):
    @pytest.fixture
    def backend_factory(self) -> Any:
        return _factory("default")

    @pytest.fixture
    def relay_source_for(self) -> Iterator[Callable[[DjangoBackend], OutboxSource]]:
        yield from _relay_sources("default")


@on_sqlite
class TestUpcastingSQLite(UpcastingContract):
    @pytest.fixture
    def backend_factory(self) -> Any:
        return _factory("default")


class TestUpcastingPostgres(UpcastingContract):
    pytestmark = on_postgres

    @pytest.fixture
    def backend_factory(self) -> Any:
        return _factory("postgres")


class TestOutboxPostgres(OutboxContract):
    pytestmark = on_postgres

    @pytest.fixture
    def backend_factory(self) -> Any:
        return _factory("postgres")

    @pytest.fixture
    def relay_source_for(self) -> Iterator[Callable[[DjangoBackend], OutboxSource]]:
        yield from _relay_sources("postgres")


@on_sqlite
class TestKeyStorageSQLite(KeyStorageContract):
    @pytest.fixture
    def key_storage(self) -> DjangoKeyStorage:
        return DjangoKeyStorage(database="default")


class TestKeyStoragePostgres(KeyStorageContract):
    pytestmark = on_postgres

    @pytest.fixture
    def key_storage(self) -> DjangoKeyStorage:
        return DjangoKeyStorage(database="postgres")


@on_sqlite
class TestCursorsSQLite(CursorsContract):
    @pytest.fixture
    def cursors(self) -> DjangoCursorsDao:
        return DjangoCursorsDao(database="default")


class TestCursorsPostgres(CursorsContract):
    pytestmark = on_postgres

    @pytest.fixture
    def cursors(self) -> DjangoCursorsDao:
        return DjangoCursorsDao(database="postgres")


@on_sqlite
class TestSubscriptionsSQLite(SubscriptionContract):
    @pytest.fixture
    def backend(self) -> DjangoBackend:
        return backend_on("default")


class TestSubscriptionsPostgres(SubscriptionContract):
    pytestmark = on_postgres

    @pytest.fixture
    def backend(self) -> DjangoBackend:
        return backend_on("postgres")


def _close_thread_connections(alias: str) -> Iterator[DjangoBackend]:
    """The backend; afterwards, end the connections the writer threads left open."""
    yield backend_on(alias)
    gc.collect()
    connection = connections[alias]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.mark.django_db(databases=["default"], transaction=True)
class TestConcurrentWritersSQLite(ConcurrentWritersContract):
    @pytest.fixture
    def backend(self) -> Iterator[DjangoBackend]:
        yield from _close_thread_connections("default")


@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"], transaction=True)
class TestConcurrentWritersPostgres(ConcurrentWritersContract):
    @pytest.fixture
    def backend(self) -> Iterator[DjangoBackend]:
        yield from _close_thread_connections("postgres")
