"""Failing handlers: retried, then parked; the projection stops or goes on; operators decide."""

import pytest
from django.core.management import call_command

from eventhex_django_adapter.projections import (
    load_projections,
    projection_statuses,
    retry_parked,
    skip_parked,
)
from eventhex_django_adapter.projections.models import ParkedEvent, ProjectionState
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


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AllEvents, "retry_delay", 0.01)
    monkeypatch.setattr(AllEvents, "attempts", 3)


def parked(alias: str) -> list[ParkedEvent]:
    return list(ParkedEvent.objects.using(alias).filter(status="parked").order_by("id"))


def test_stop_parks_the_event_and_waits_there_until_retried(alias: str) -> None:
    backend = backend_for(alias)
    projections = load_projections(["test.all"])
    AllEvents.fail_on = {"item-3"}  # first met at event 3
    append_events(backend, 25)

    with running(backend, projections):
        wait_for(lambda: len(parked(alias)) == 1, "the event to be parked")
        (status,) = projection_statuses(backend, projections)
        assert status.state == "stopped"
        assert status.parked == 1
        assert "cannot project item item-3" in status.last_error
        # The three events before it committed (on their own, after the batch failed), no more.
        assert len(applied(alias, "test.all")) == 3
        assert AllEvents.calls.count("item-3") == 1 + 3  # the batch's try, then three tries
        (event,) = parked(alias)
        assert event.attempts == 3
        assert "Traceback" in event.error
        row = ProjectionState.objects.using(alias).get(name="test.all")
        assert int(row.position) == int(event.previous_position)

        AllEvents.fail_on = set()  # the bug is fixed
        outcome = retry_parked(backend, projections[0], event.pk)
        assert outcome.ok, outcome.detail
        wait_for(lambda: len(applied(alias, "test.all")) == 25, "the rest after the retry")

    assert applied(alias, "test.all") == expected_uuids(backend, projections[0])
    assert parked(alias) == []
    assert ProjectionState.objects.using(alias).get(name="test.all").state == "running"


def test_skip_moves_a_stopped_projection_past_the_event(alias: str) -> None:
    backend = backend_for(alias)
    projections = load_projections(["test.all"])
    AllEvents.fail_on = {"item-3"}
    append_events(backend, 6)  # item-3 only once: event 3

    with running(backend, projections):
        wait_for(lambda: len(parked(alias)) == 1, "the event to be parked")
        (event,) = parked(alias)
        assert skip_parked(backend, event.pk).ok
        wait_for(lambda: len(applied(alias, "test.all")) == 5, "the events after it")

    expected = expected_uuids(backend, projections[0])
    assert applied(alias, "test.all") == [u for u in expected if u != str(event.event_uuid)]
    assert ParkedEvent.objects.using(alias).get(pk=event.pk).status == "skipped"
    assert skip_parked(backend, event.pk).ok is False  # decided already


def test_park_goes_on_and_a_later_retry_applies_the_event(
    alias: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(AllEvents, "on_failure", "park")
    backend = backend_for(alias)
    projections = load_projections(["test.all"])
    AllEvents.fail_on = {"item-3"}
    append_events(backend, 20)  # item-3 at events 3, 10 and 17

    with running(backend, projections):
        wait_for(lambda: projection_statuses(backend, projections)[0].lag_events == 0, "catch-up")

    assert len(parked(alias)) == 3
    assert len(applied(alias, "test.all")) == 17
    (status,) = projection_statuses(backend, projections)
    assert (status.state, status.parked) == ("running", 3)

    still_failing = retry_parked(backend, projections[0], parked(alias)[0].pk)
    assert not still_failing.ok
    assert "cannot project item item-3" in still_failing.detail
    assert parked(alias)[0].attempts == 4

    AllEvents.fail_on = set()
    call_command("eventhex_projections", "parked", "retry", "--all")
    assert parked(alias) == []
    assert sorted(applied(alias, "test.all")) == sorted(expected_uuids(backend, projections[0]))
    assert ProjectionState.objects.using(alias).get(name="test.all").applied == 20


def test_a_failed_batch_leaves_nothing_behind(alias: str) -> None:
    """The batch's handler calls roll back with it: only the retried events' effects stay."""
    backend = backend_for(alias)
    projections = load_projections(["test.all"])
    AllEvents.fail_on = {"item-6"}
    append_events(backend, 10)  # one batch of 10; event 6 fails

    with running(backend, projections):
        wait_for(lambda: len(parked(alias)) == 1, "the event to be parked")

    uuids = applied(alias, "test.all")
    assert uuids == expected_uuids(backend, projections[0])[:6]
    assert len(set(uuids)) == len(uuids)
