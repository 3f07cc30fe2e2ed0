"""The runner hands its projections events stored by an older class, renamed and upcast."""

from typing import Any
from uuid import uuid4

import pytest
from event_sourcery import StreamId

from eventhex_core_ports.testing.events import ContractOrderCreated
from eventhex_core_ports.upcasting import Upcasters
from eventhex_django_adapter.projections import load_projections
from tests.django_adapter.projections.conftest import (
    append_events,
    backend_for,
    expected_uuids,
    running,
)
from tests.django_adapter.projections.test_runner import applied
from tests.projection_app.projections import AllEvents
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

OLD, NEW = "eventhex.contract.upcasting.OrderCreated", "eventhex.contract.upcasting.OrderPlaced"


def _version_3_registry() -> Upcasters:
    registry = Upcasters()
    registry.rename(OLD, NEW)
    registry.add_upcaster(NEW, 1, lambda data: {"item": data.pop("product"), **data})
    registry.add_upcaster(NEW, 2, lambda data: {**data, "quantity": 1})
    return registry


def test_the_runner_applies_version_1_events_as_the_renamed_version_3_class(alias: str) -> None:
    backend = backend_for(alias)
    (projection,) = load_projections(["test.all"])
    append_events(backend, 3)
    stream = StreamId(name=f"upcast-{uuid4().hex}", category="cart")
    backend.event_store.append(ContractOrderCreated(product="tea"), stream_id=stream)
    backend[Upcasters] = _version_3_registry()
    expected = expected_uuids(backend, projection)

    with running(backend, [projection]):
        wait_for(lambda: applied(alias, "test.all") == expected, "every event to be applied")

    calls: list[Any] = AllEvents.calls
    assert calls[-1] == "tea"  # ContractOrderPlaced.item: only the upcast event has one
