"""Events the runner cannot build fail like a handler: retried, parked, stopped or passed.

The rows are changed behind the store's back, as an old deploy or a hand-made fix leaves them:
a name no registered class reads, a payload the class no longer validates.
"""

from typing import Any

import pytest
from django.core.management import call_command

from eventhex_django_adapter.models import Event
from eventhex_django_adapter.projections import load_projections, projection_statuses
from eventhex_django_adapter.projections.models import ParkedEvent, ProjectionState
from tests.django_adapter.projections.conftest import (
    append_events,
    backend_for,
    expected_uuids,
    running,
)
from tests.django_adapter.projections.test_runner import applied
from tests.projection_app.projections import AllEvents, CartEvents
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    for projection in (AllEvents, CartEvents):
        monkeypatch.setattr(projection, "retry_delay", 0.01)
        monkeypatch.setattr(projection, "attempts", 3)


def parked(alias: str) -> list[ParkedEvent]:
    return list(ParkedEvent.objects.using(alias).filter(status="parked").order_by("id"))


def _change_row(alias: str, uuid: str, **columns: Any) -> None:
    assert Event.objects.using(alias).filter(uuid=uuid).update(**columns) == 1


@pytest.mark.parametrize("name", ["test.all", "test.cart"])
def test_an_event_of_an_unknown_name_stops_the_projection_until_skipped(
    alias: str, name: str
) -> None:
    backend = backend_for(alias)
    (projection,) = load_projections([name])
    append_events(backend, 30)
    expected = expected_uuids(backend, projection)
    gone = expected[3]
    _change_row(alias, gone, name="shop.Gone")

    with running(backend, [projection]):
        wait_for(lambda: len(parked(alias)) == 1, "the event to be parked")
        (event,) = parked(alias)
        assert (str(event.event_uuid), event.event_name, event.attempts) == (gone, "shop.Gone", 3)
        assert "No event class is registered under the name 'shop.Gone'" in event.error
        assert applied(alias, name) == expected[:3]  # the events before it, nothing after
        (status,) = projection_statuses(backend, [projection])
        assert status.state == "stopped"
        assert "shop.Gone" in status.last_error

        call_command("eventhex_projections", "parked", "skip", str(event.pk))
        wait_for(lambda: len(applied(alias, name)) == len(expected) - 1, "the rest")

    assert applied(alias, name) == [uuid for uuid in expected if uuid != gone]
    row = ProjectionState.objects.using(alias).get(name=name)
    assert (row.state, row.last_error) == ("running", "")


def test_a_payload_that_no_longer_validates_is_parked_and_the_projection_goes_on(
    alias: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(AllEvents, "on_failure", "park")
    backend = backend_for(alias)
    (projection,) = load_projections(["test.all"])
    append_events(backend, 12)
    expected = expected_uuids(backend, projection)
    broken = expected[5]
    _change_row(alias, broken, data={"quantity": "many"})

    with running(backend, [projection]):
        wait_for(lambda: len(applied(alias, "test.all")) == 11, "the events around it")

    (event,) = parked(alias)
    assert str(event.event_uuid) == broken
    assert "validation error" in event.error
    assert applied(alias, "test.all") == [uuid for uuid in expected if uuid != broken]
    row = ProjectionState.objects.using(alias).get(name="test.all")
    assert (row.state, row.applied, str(row.last_event_uuid)) == ("running", 11, expected[-1])
    assert row.last_error == ""  # events applied after it: the projection is not failing


def test_while_an_event_is_retried_the_projection_shows_its_error(
    alias: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(AllEvents, "retry_delay", 30.0)  # stays in its first wait
    backend = backend_for(alias)
    (projection,) = load_projections(["test.all"])
    append_events(backend, 5)
    expected = expected_uuids(backend, projection)
    _change_row(alias, expected[2], name="shop.Gone")

    with running(backend, [projection]):
        rows = ProjectionState.objects.using(alias).filter(name="test.all")
        wait_for(
            lambda: "shop.Gone" in "".join(rows.values_list("last_error", flat=True)),
            "the error to be recorded",
        )
        assert applied(alias, "test.all") == expected[:2]
        assert parked(alias) == []
