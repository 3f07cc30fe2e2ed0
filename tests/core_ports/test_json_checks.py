"""The quick test of a payload agrees with the full walk: it never passes what the walk
refuses, and what it passes encodes exactly as the walk's path encodes it."""

import enum
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from eventhex_core_ports._internal.validation import (
    MAX_JSON_DEPTH,
    _compact_json,
    _json_problem,
    _plain_json,
)


class Colour(enum.IntEnum):
    RED = 1


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth - 1):
        value = [value]
    return value


ODD = [
    {1: "int key"},
    {"a": (1, 2)},
    {"a": float("nan")},
    {"a": float("inf")},
    {"a": "nul\x00"},
    {"nul\x00key": 1},
    {"a": "\ud800"},
    {"a": b"bytes"},
    {"a": {1, 2}},
    {"a": Colour.RED},
    {True: 1},
    {None: 1},
    _nested(MAX_JSON_DEPTH),
    _nested(MAX_JSON_DEPTH + 1),
    {"text": "[" * 200},
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=4) | st.integers(), inner, max_size=3)
    | st.tuples(inner),
    max_leaves=10,
)


def _agree(value: Any) -> None:
    quick = _plain_json(value)
    if quick is not None:
        assert _json_problem(value, "data") is None
        assert quick == _compact_json(value)
        assert json.loads(quick) == value


@given(values)
def test_random_values(value: Any) -> None:
    _agree(value)


def test_odd_values() -> None:
    for value in ODD:
        _agree(value)
    assert _plain_json(_nested(MAX_JSON_DEPTH)) is not None  # at the limit: passes quickly
    assert _plain_json({"w": 1, "pad": "p" * 64}) == '{"w":1,"pad":"' + "p" * 64 + '"}'
