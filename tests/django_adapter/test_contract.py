"""The core-ports contract kit against the Django adapter, on SQLite and on PostgreSQL."""

import gc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connections, transaction

from eventhex_core_ports.testing import (
    ConcurrentWritersContract,
    InTransactionContract,
    OutboxContract,
    StorageContract,
    SubscriptionContract,
)
from eventhex_core_ports.testing.storage import CallerTransaction
from eventhex_django_adapter import DjangoBackend

from .conftest import backend_on, on_postgres, on_sqlite


def _factory(alias: str) -> Callable[[int], DjangoBackend]:
    return lambda attempts: backend_on(alias, outbox_attempts=attempts)


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


class TestOutboxPostgres(OutboxContract):
    pytestmark = on_postgres

    @pytest.fixture
    def backend_factory(self) -> Any:
        return _factory("postgres")


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
