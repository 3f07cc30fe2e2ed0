"""Declaring projections: selection, handler methods, settings and system checks."""

import pytest
from django.core.checks import Tags, run_checks
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from eventhex_core_ports.testing.events import (
    ContractItemAdded,
    ContractItemRemoved,
    ContractNoteTaken,
)
from eventhex_django_adapter.projections import Projection, handles, load_projections
from tests.projection_app import REGISTERED
from tests.projection_app.projections import CartEvents, ItemCounts, Removals


class Bad(Projection):
    name = ""
    category = "cart"
    event_types = (ContractItemAdded,)
    batch_size = 0
    on_failure = "explode"  # type: ignore[assignment]


class Twin(Projection):
    name = "test.all"


def test_the_selection_is_the_category_the_types_or_the_handled_types() -> None:
    assert (CartEvents.category, CartEvents.selected_types()) == ("cart", None)
    assert Removals.selected_types() == (ContractItemRemoved,)
    assert set(ItemCounts.selected_types() or ()) == {ContractItemAdded, ContractItemRemoved}


def test_handle_calls_the_method_of_the_event_type_and_ignores_others() -> None:
    seen: list[str] = []

    class Notes(Projection):
        name = "notes"

        @handles(ContractNoteTaken)
        def taken(self, event: ContractNoteTaken, record: object) -> None:
            seen.append(event.text)

    from event_sourcery import StreamId
    from event_sourcery.event import Recorded, WrappedEvent

    def record(event: object) -> Recorded:
        wrapped = WrappedEvent.wrap(event, version=1)  # type: ignore[type-var]
        return Recorded(wrapped_event=wrapped, stream_id=StreamId(name="n"), position=1)

    Notes().handle(record(ContractNoteTaken(text="hello")))
    Notes().handle(record(ContractItemAdded(item="x")))
    assert seen == ["hello"]


def test_problems_name_each_mistake_and_its_fix() -> None:
    problems = " | ".join(Bad.problems())
    assert "has no name" in problems
    assert "both category and event_types" in problems
    assert "batch_size must be an integer >= 1" in problems
    assert "on_failure must be 'stop' or 'park'" in problems
    assert Projection.can_reset() is False
    assert ItemCounts.can_reset() is True


def test_shards_and_version_are_checked() -> None:
    class Split(Projection):
        name = "x" * 250
        shards = 0
        version = 2

    problems = " | ".join(Split.problems())
    assert "Split.shards must be an integer >= 1, got 0" in problems
    assert "must fit in 255 characters" in problems
    Split.name, Split.shards = "ok", 16
    assert Split.problems() == []


def test_handles_needs_an_event_type() -> None:
    with pytest.raises(TypeError, match="at least one event type"):
        handles()


@pytest.mark.parametrize(
    ("setting", "check_id", "text"),
    [
        ("tests.projection_app.projections", "eventhex.E101", "must be a list"),
        (["tests.projection_app.nowhere.Gone"], "eventhex.E102", "cannot be imported"),
        (["tests.projection_app.models.ItemCount"], "eventhex.E102", "not a subclass"),
        ([f"{__name__}.Bad"], "eventhex.E103", "has no name"),
        ([*REGISTERED, f"{__name__}.Twin"], "eventhex.E104", "are both named 'test.all'"),
    ],
)
def test_system_checks_report_bad_settings(setting: object, check_id: str, text: str) -> None:
    with override_settings(EVENTHEX_PROJECTIONS=setting):
        errors = [m for m in run_checks(tags=[Tags.compatibility]) if m.id == check_id]
    assert errors, f"no {check_id}"
    assert text in errors[0].msg


def test_a_bad_backend_setting_is_reported() -> None:
    with override_settings(EVENTHEX_PROJECTIONS_BACKEND="tests.projection_app.models.ItemCount"):
        errors = [m for m in run_checks(tags=[Tags.compatibility]) if m.id == "eventhex.E105"]
    assert errors
    assert "DjangoBackend" in errors[0].msg


def test_registered_projections_pass_the_checks() -> None:
    with override_settings(EVENTHEX_PROJECTIONS=REGISTERED):
        messages = run_checks(tags=[Tags.compatibility])
    assert [m for m in messages if m.id.startswith("eventhex.E1")] == []


def test_unknown_and_duplicate_names_are_errors_that_say_what_exists() -> None:
    unknown = r"unknown projection\(s\) 'nope'.*test\.all"
    with (
        override_settings(EVENTHEX_PROJECTIONS=REGISTERED),
        pytest.raises(ImproperlyConfigured, match=unknown),
    ):
        load_projections(["nope"])
    with (
        override_settings(EVENTHEX_PROJECTIONS=[*REGISTERED, f"{__name__}.Twin"]),
        pytest.raises(ImproperlyConfigured, match=r"two projections are named 'test\.all'"),
    ):
        load_projections()
