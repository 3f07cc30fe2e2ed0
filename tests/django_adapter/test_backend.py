"""The backend facade: configuration, errors, wiring and container overrides."""

import subprocess
import sys
from datetime import timedelta
from typing import Any, Self

import pytest
from dependency_injector import providers
from event_sourcery import StreamId
from event_sourcery.event import RawEvent
from event_sourcery.interfaces import OutboxStorageStrategy, StorageStrategy, Versioning
from event_sourcery.subscription import SubscriptionBuilder
from pydantic import ValidationError

from eventhex_core_ports.testing.events import ContractItemAdded
from eventhex_django_adapter import DjangoBackend, DjangoConfig
from eventhex_django_adapter.outbox import DjangoOutboxStorageStrategy
from eventhex_django_adapter.storage import DjangoStorageStrategy
from eventhex_django_adapter.subscription import DjangoSubscriptionStrategy


@pytest.mark.django_db(databases=["default"])
def test_unconfigured_backend_works_with_the_defaults_like_upstreams() -> None:
    backend = DjangoBackend()
    stream = StreamId()

    backend.event_store.append(ContractItemAdded(item="a"), stream_id=stream)

    assert backend[DjangoConfig] == DjangoConfig()
    assert [e.version for e in backend.event_store.load_stream(stream)] == [1]
    assert isinstance(backend.subscriber, SubscriptionBuilder)


def test_configure_without_argument_uses_the_defaults() -> None:
    backend = DjangoBackend().configure()

    assert backend[DjangoConfig] == DjangoConfig()
    assert DjangoConfig() == DjangoConfig(
        outbox_attempts=3, gap_retry_interval=timedelta(seconds=0.5), database="default"
    )


def test_config_is_frozen_and_forbids_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="outbox_attemps"):
        DjangoConfig(outbox_attemps=3)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        DjangoConfig().database = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value", "hint"),
    [
        ("outbox_attempts", 0, "greater than 0"),
        ("gap_retry_interval", timedelta(0), "positive duration"),
        ("database", " ", "alias from settings.DATABASES"),
    ],
)
def test_invalid_config_names_the_field_and_the_fix(field: str, value: Any, hint: str) -> None:
    with pytest.raises(ValidationError) as error:
        DjangoConfig(**{field: value})

    assert field in str(error.value)
    assert hint in str(error.value)


def test_components_are_built_from_the_config() -> None:
    config = DjangoConfig(outbox_attempts=7, database="postgres")
    backend = DjangoBackend().configure(config).with_outbox()

    storage = backend.container.storage()
    outbox = backend[OutboxStorageStrategy]  # type: ignore[type-abstract]
    assert isinstance(storage, DjangoStorageStrategy)
    assert storage.database == "postgres"
    assert isinstance(outbox, DjangoOutboxStorageStrategy)
    assert outbox._max_attempts == 7
    assert isinstance(backend.container.subscription(), DjangoSubscriptionStrategy)


def test_without_outbox_appends_write_no_outbox_rows() -> None:
    backend = DjangoBackend().configure()

    assert backend.container.outbox_strategy() is None
    assert backend.container.storage()._outbox is None


class _ListStorage(StorageStrategy):
    """A stand-in storage adapter that keeps events in a list."""

    def __init__(self) -> None:
        self.events: list[RawEvent] = []

    def fetch_events(
        self, stream_id: StreamId, start: int | None = None, stop: int | None = None
    ) -> list[RawEvent]:
        return [event for event in self.events if event.stream_id == stream_id]

    def insert_events(
        self, stream_id: StreamId, versioning: Versioning, events: list[RawEvent]
    ) -> None:
        self.events.extend(events)

    def scoped_for_tenant(self, tenant_id: str) -> Self:
        return self


def test_a_container_override_swaps_the_storage_adapter() -> None:
    backend = DjangoBackend().configure()
    replacement = _ListStorage()
    backend.container.storage.override(providers.Object(replacement))
    stream = StreamId()

    backend.event_store.append(ContractItemAdded(item="a"), stream_id=stream)  # no database access

    assert [event.name for event in replacement.events] == [
        backend.event_store._serde.registry.name_for_type(ContractItemAdded)
    ]
    assert [e.event for e in backend.event_store.load_stream(stream)] == [
        ContractItemAdded(item="a")
    ]
    backend.container.storage.reset_override()
    assert isinstance(backend.container.storage(), DjangoStorageStrategy)


def test_tenant_views_share_the_configuration_and_scope_storage() -> None:
    backend = (
        DjangoBackend()
        .configure(DjangoConfig(database="postgres"))
        .with_outbox(lambda entry: entry.name == "x")
    )
    tenant = backend.in_tenant_mode("tenant-a")

    assert tenant[DjangoConfig] is backend[DjangoConfig]
    assert tenant.container.storage().database == "postgres"
    assert tenant[StorageStrategy]._tenant_id == "tenant-a"  # type: ignore[type-abstract]
    assert backend[StorageStrategy]._tenant_id == ""  # type: ignore[type-abstract]
    assert isinstance(tenant[OutboxStorageStrategy], DjangoOutboxStorageStrategy)  # type: ignore[type-abstract]


def test_package_imports_and_configures_before_django_setup() -> None:
    code = (
        "import eventhex_django_adapter as e; "
        "b = e.DjangoBackend().configure(e.DjangoConfig()).with_outbox(); "
        "print(sorted(e.__all__))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )

    assert result.returncode == 0, result.stderr
    assert "DjangoBackend" in result.stdout
