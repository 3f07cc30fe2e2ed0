"""``eventhex_projections rebuild``: reset, replay with progress, end equal to the live model.

The suite replays 20,000 events (``EVENTHEX_TEST_REBUILD_EVENTS`` sets another count);
``python -m benchmarks projections`` runs the same over 100,000.
"""

import io
import os

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from eventhex_django_adapter.projections import load_projections, projection_statuses
from eventhex_django_adapter.projections.models import ProjectionState
from tests.django_adapter.projections.conftest import (
    append_events,
    backend_for,
    running,
)
from tests.django_adapter.projections.test_runner import applied
from tests.projection_app import REGISTERED
from tests.projection_app.models import ItemCount
from tests.waiting import wait_for

pytestmark = [
    pytest.mark.django_db(databases=["postgres"], transaction=True),
    pytest.mark.postgres,
]

EVENTS = int(os.environ.get("EVENTHEX_TEST_REBUILD_EVENTS", "20000"))


@pytest.fixture
def alias() -> str:
    return "postgres"


def counts() -> dict[str, int]:
    return dict(ItemCount.objects.using("postgres").values_list("item", "quantity"))


def caught_up(names: list[str]) -> bool:
    backend = backend_for("postgres")
    return all(s.lag_events == 0 for s in projection_statuses(backend, load_projections(names)))


def test_a_rebuild_shows_progress_and_ends_equal_to_the_live_model(alias: str) -> None:
    backend = backend_for(alias)
    names = ["test.item_counts", "test.cart"]
    append_events(backend, EVENTS, per_stream=100)

    with running(backend, load_projections(names)):
        wait_for(lambda: caught_up(names), "the live models", seconds=240)
        live_counts, live_cart = counts(), applied(alias, "test.cart")
        ItemCount.objects.using(alias).update(quantity=0)  # damage the read model

        out = io.StringIO()
        call_command("eventhex_projections", "rebuild", "test.item_counts", "--plain", stdout=out)

        assert counts() == live_counts
        lines = out.getvalue().splitlines()
        progress = [line for line in lines if " / " in line]
        assert progress[0].startswith(f"rebuild test.item_counts: 0 / {EVENTS:,} events (0.0%)")
        assert progress[-1].startswith(
            f"rebuild test.item_counts: {EVENTS:,} / {EVENTS:,} events (100.0%)"
        )
        assert all("ETA" in line for line in progress)
        assert lines[-1].startswith(f"rebuild test.item_counts: {EVENTS:,} events replayed")
        row = ProjectionState.objects.using(alias).get(name="test.item_counts")
        # The live runner may already own it again: the rebuild hands the projection back.
        assert (row.state, row.applied) == ("running", EVENTS)

        # Both keep running live afterwards: the runner claims the rebuilt one again.
        append_events(backend, 50, start=EVENTS)
        wait_for(lambda: caught_up(names), "both projections after the rebuild")
        assert applied(alias, "test.cart")[: len(live_cart)] == live_cart
    assert ProjectionState.objects.using(alias).get(name="test.item_counts").applied == EVENTS + 50


def test_a_projection_without_reset_cannot_be_rebuilt(alias: str, settings: object) -> None:
    no_reset = "tests.projection_app.projections.NoReset"
    settings.EVENTHEX_PROJECTIONS = [*REGISTERED, no_reset]  # type: ignore[attr-defined]
    with pytest.raises(CommandError, match="define reset"):
        call_command("eventhex_projections", "rebuild", "test.nothing_to_reset")
