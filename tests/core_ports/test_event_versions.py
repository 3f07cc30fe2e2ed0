"""``check_event_versions`` and ``InvalidEventVersions`` on their own, without a store."""

import pickle
from datetime import datetime
from uuid import uuid4

import pytest
from event_sourcery import NO_VERSIONING, StreamId
from event_sourcery.event import RawEvent
from event_sourcery.interfaces import Versioning

from eventhex_core_ports.validation import InvalidEventVersions, check_event_versions

STREAM = StreamId(name="orders-7", category="orders")


class ExplicitVersioning(Versioning):
    """event_sourcery's explicit versioning (its own class is not public API)."""

    def __init__(self, expected_version: int, initial_version: int) -> None:
        self._expected, self._initial = expected_version, initial_version

    def validate_if_compatible(self, version: int | None) -> None:
        pass

    @property
    def initial_version(self) -> int | None:
        return self._initial

    @property
    def expected_version(self) -> int | None:
        return self._expected


def _raw(version: int | None) -> RawEvent:
    return RawEvent(
        uuid=uuid4(),
        stream_id=STREAM,
        created_at=datetime(2025, 1, 1),
        name="eventhex.test.Noted",
        data={},
        context={},
        version=version,
    )


def test_versions_that_continue_the_expected_one_pass() -> None:
    check_event_versions(STREAM, ExplicitVersioning(4, 6), [_raw(5), _raw(6)])
    check_event_versions(STREAM, NO_VERSIONING, [_raw(None), _raw(None)])


def test_a_long_append_gets_a_short_message() -> None:
    events = [_raw(n) for n in range(1, 1001)]

    with pytest.raises(InvalidEventVersions) as raised:
        check_event_versions(STREAM, ExplicitVersioning(3, 1000), events)

    message = str(raised.value)
    assert "expected_version=3 must carry versions 4 to 1003; they carry versions 1 to 1000" in (
        message
    )
    assert "'orders-7'" in message
    assert "'orders'" in message
    assert len(message) < 600
    scattered = [_raw(n * 2) for n in range(1, 21)]
    with pytest.raises(InvalidEventVersions) as raised:
        check_event_versions(STREAM, ExplicitVersioning(0, 40), scattered)
    assert "they carry versions 2, 4, 6, 8, 10, 12, 14, 16, ... (20 in all)" in str(raised.value)


def test_the_error_survives_pickling_with_its_attributes() -> None:
    error = InvalidEventVersions(STREAM, 2, (1, None))

    copy = pickle.loads(pickle.dumps(error))

    assert isinstance(copy, InvalidEventVersions)
    assert (copy.stream_id, copy.stream_id.name, copy.stream_id.category) == (
        STREAM,
        "orders-7",
        "orders",
    )
    assert (copy.expected_version, copy.versions, copy.required) == (2, (1, None), (3, 4))
    assert str(copy) == str(error)
