"""The runner applies every selected event once, in commit order, and checkpoints in step."""

from collections import Counter

import pytest

from eventhex_django_adapter.projections import load_projections, projection_statuses
from eventhex_django_adapter.projections.models import ProjectionState
from tests.django_adapter.projections.conftest import (
    append_events,
    backend_for,
    expected_uuids,
    running,
)
from tests.projection_app.models import AppliedEvent, ItemCount
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def applied(alias: str, name: str) -> list[str]:
    rows = AppliedEvent.objects.using(alias).filter(projection=name).order_by("id")
    return [str(uuid) for uuid in rows.values_list("event_uuid", flat=True)]


def test_every_projection_gets_its_selection_once_in_commit_order(alias: str) -> None:
    backend = backend_for(alias)
    projections = load_projections()
    append_events(backend, 120)

    with running(backend, projections) as runner:
        wait_for(lambda: len(applied(alias, "test.all")) >= 120, "the first 120 events")
        append_events(backend, 80, start=120)  # live, through the wake-ups
        wait_for(
            lambda: all(s.lag_events == 0 for s in projection_statuses(backend, projections)),
            "every projection to catch up",
        )
        assert runner.owned() == sorted(p.name for p in projections)

    for projection in projections[:3]:
        assert applied(alias, projection.name) == expected_uuids(backend, projection)
    assert len(applied(alias, "test.all")) == 200
    cart = applied(alias, "test.cart")
    assert 0 < len(cart) < 200
    removals = applied(alias, "test.removals")
    assert len(removals) == 40  # every fifth event
    counts = dict(ItemCount.objects.using(alias).values_list("item", "quantity"))
    assert sum(counts.values()) == _expected_quantity(200)


def _expected_quantity(count: int) -> int:
    total: Counter[str] = Counter()
    for n in range(count):
        if n % 5 == 4:
            if f"item-{n % 7}" in total:  # a removal before any addition changes nothing
                total[f"item-{n % 7}"] -= 1
        else:
            total[f"item-{n % 7}"] += 1 + n % 3
    return sum(total.values())


def test_the_checkpoint_is_the_last_applied_event(alias: str) -> None:
    backend = backend_for(alias)
    projections = load_projections(["test.all"])
    append_events(backend, 30)

    with running(backend, projections):
        wait_for(lambda: len(applied(alias, "test.all")) == 30, "30 events")

    row = ProjectionState.objects.using(alias).get(name="test.all")
    last = AppliedEvent.objects.using(alias).filter(projection="test.all").latest("id")
    assert int(row.position) == int(last.position)
    assert str(row.last_event_uuid) == str(last.event_uuid)
    assert row.applied == 30
    assert row.owner == ""  # released on stop
    (status,) = projection_statuses(backend, projections)
    assert (status.lag_events, status.lag_seconds, status.position) == (0, 0.0, int(row.position))


def test_a_restarted_runner_resumes_after_its_checkpoint(alias: str) -> None:
    backend = backend_for(alias)
    projections = load_projections(["test.cart"])
    append_events(backend, 40)
    with running(backend, projections):
        wait_for(lambda: projection_statuses(backend, projections)[0].lag_events == 0, "catch-up")
    before = applied(alias, "test.cart")
    append_events(backend, 40, start=40)
    (status,) = projection_statuses(backend, projections)
    assert status.lag_events > 0
    assert status.lag_seconds >= 0

    with running(backend, projections):
        wait_for(lambda: projection_statuses(backend, projections)[0].lag_events == 0, "catch-up")

    after = applied(alias, "test.cart")
    assert after[: len(before)] == before
    assert after == expected_uuids(backend, projections[0])
