"""``eventhex_core_ports.upcasting``: chains, renames and the errors that explain a mistake."""

from functools import reduce
from typing import Any

import pytest
from event_sourcery import Event
from hypothesis import given
from hypothesis import strategies as st

from eventhex_core_ports.errors import InvalidUpcaster, UnreachableEventVersion
from eventhex_core_ports.upcasting import (
    EVENT_VERSION_KEY,
    Upcast,
    Upcasters,
    event_version,
    rename,
    upcaster,
)

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
_payloads = st.dictionaries(st.text(max_size=5), _json, max_size=4)


def _step(kind: int, key: str, value: Any) -> Upcast:
    """One of a few payload changes an upcaster makes (add, drop, rename, nest a field)."""

    def step(data: dict[str, Any]) -> dict[str, Any]:
        if kind == 0:
            return {**data, key: value}
        if kind == 1:
            return {k: v for k, v in data.items() if k != key}
        if kind == 2:
            return {(f"{k}_{key}" if k == key else k): v for k, v in data.items()}
        return {key: dict(data)}

    return step


_steps = st.lists(
    st.builds(_step, st.integers(0, 3), st.text(max_size=3), _json), min_size=1, max_size=6
)


@given(payload=_payloads, steps=_steps, start=st.integers(1, 6))
def test_a_chain_gives_the_same_result_as_the_composed_functions(
    payload: dict[str, Any], steps: list[Upcast], start: int
) -> None:
    registry = Upcasters()
    for offset, step in enumerate(steps):
        registry.add_upcaster("shop.Order", start + offset, step)
    current = start + len(steps)

    composed = reduce(lambda data, step: step(data), steps, dict(payload))

    assert registry.upcast("shop.Order", dict(payload), start, current) == composed


@given(payload=_payloads, steps=_steps)
def test_a_chain_read_from_any_version_runs_only_the_steps_after_it(
    payload: dict[str, Any], steps: list[Upcast]
) -> None:
    registry = Upcasters()
    for offset, step in enumerate(steps):
        registry.add_upcaster("shop.Order", 1 + offset, step)
    current = 1 + len(steps)
    for stored in range(1, current + 1):
        expected = reduce(lambda data, step: step(data), steps[stored - 1 :], dict(payload))
        assert registry.upcast("shop.Order", dict(payload), stored, current) == expected


def test_the_module_functions_register_into_the_registry_given() -> None:
    registry = Upcasters()
    rename("shop.OrderCreated", "shop.OrderPlaced", registry=registry)

    @upcaster("shop.OrderPlaced", from_version=1, registry=registry)
    def add_currency(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "currency": "EUR"}

    assert registry.current_name("shop.OrderCreated") == "shop.OrderPlaced"
    assert registry.old_names("shop.OrderPlaced") == ["shop.OrderCreated"]
    assert registry.upcast("shop.OrderPlaced", {"id": 1}, 1, 2) == {"id": 1, "currency": "EUR"}
    assert add_currency({}) == {"currency": "EUR"}  # the decorator returns the function


def test_renames_chain() -> None:
    registry = Upcasters()
    registry.rename("a", "b")
    registry.rename("b", "c")
    assert registry.current_name("a") == "c"
    assert sorted(registry.old_names("c")) == ["a", "b"]
    assert registry.renames == {"a": "b", "b": "c"}


def test_a_rename_cycle_is_refused() -> None:
    registry = Upcasters()
    registry.rename("a", "b")
    with pytest.raises(InvalidUpcaster, match="cycle"):
        registry.rename("b", "a")


def test_an_old_name_renamed_twice_is_refused() -> None:
    registry = Upcasters()
    registry.rename("a", "b")
    registry.rename("a", "b")  # the same rename again changes nothing
    with pytest.raises(InvalidUpcaster, match="already renamed to 'b'"):
        registry.rename("a", "c")


def test_two_upcasters_from_one_version_are_refused() -> None:
    registry = Upcasters()
    registry.add_upcaster("shop.Order", 1, dict)
    with pytest.raises(InvalidUpcaster, match="already has an upcaster from version 1"):
        registry.add_upcaster("shop.Order", 1, dict)


@pytest.mark.parametrize("version", [0, -1, 1.0, "1", True])
def test_a_from_version_that_is_not_a_positive_int_is_refused(version: Any) -> None:
    with pytest.raises(InvalidUpcaster, match="at least 1"):
        Upcasters().add_upcaster("shop.Order", version, dict)


def test_a_missing_step_names_the_decorator_to_add() -> None:
    registry = Upcasters()
    registry.add_upcaster("shop.Order", 1, dict)
    with pytest.raises(UnreachableEventVersion, match=r"@upcaster\('shop.Order', from_version=2\)"):
        registry.upcast("shop.Order", {}, 1, 3)
    assert registry.missing_steps("shop.Order", 4) == [2, 3]


def test_a_version_newer_than_the_class_says_a_newer_release_wrote_it() -> None:
    with pytest.raises(UnreachableEventVersion, match="newer release"):
        Upcasters().upcast("shop.Order", {}, 3, 2)


def test_an_upcaster_must_return_a_dict() -> None:
    registry = Upcasters()
    registry.add_upcaster("shop.Order", 1, lambda data: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(InvalidUpcaster, match="returned NoneType"):
        registry.upcast("shop.Order", {}, 1, 2)


def test_event_version_defaults_to_1_and_refuses_what_is_not_a_positive_int() -> None:
    class Plain(Event):
        __event_name__ = "tests.upcasting.Plain"

    class Bad(Event):
        __event_name__ = "tests.upcasting.Bad"
        __event_version__ = 0

    assert event_version(Plain) == 1
    with pytest.raises(InvalidUpcaster, match=r"Bad.__event_version__ is 0"):
        event_version(Bad)


def test_relay_messages_read_the_version_where_appends_store_it() -> None:
    from eventhex_core_ports.ports import relay

    assert relay._EVENT_VERSION_KEY == EVENT_VERSION_KEY
