"""``StreamClaim`` (the append-versioning rule) and ``InvalidEventVersions`` without a store."""

import pickle
from datetime import datetime
from uuid import uuid4

from event_sourcery import NO_VERSIONING, StreamId
from event_sourcery.event import RawEvent
from event_sourcery.exceptions import ConcurrentStreamWriteError
from event_sourcery.interfaces import Versioning

from eventhex_core_ports._internal.stream_claim import StreamClaim
from eventhex_core_ports.errors import (
    InvalidEventVersions,
)

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


def _claim(versioning: Versioning, *versions: int | None) -> StreamClaim:
    return StreamClaim(STREAM, versioning, [_raw(v) for v in versions])


def test_versions_that_continue_the_expected_one_pass() -> None:
    assert _claim(ExplicitVersioning(4, 6), 5, 6).version_error(True, 4) is None
    assert _claim(NO_VERSIONING, None, None).version_error(True, None) is None
    assert _claim(NO_VERSIONING, None).version_error(False, None) is None


def test_expected_version_zero_claims_the_version_before_the_first_event() -> None:
    for first, stream_version in [(1, 0), (4, 3)]:
        claim = _claim(ExplicitVersioning(0, first + 1), first, first + 1)
        assert (claim.version, claim.new_version, claim.unchecked) == (first - 1, first + 1, True)
        assert claim.conflict(stream_version > 0, stream_version) is None
        assert claim.version_error(stream_version > 0, stream_version) is None


def test_expected_version_zero_on_versions_another_writer_took_is_a_concurrent_write() -> None:
    claim = _claim(ExplicitVersioning(0, 1), 1)

    conflict = claim.conflict(True, 1)

    assert isinstance(conflict, ConcurrentStreamWriteError)
    assert conflict.args == (1, 0)


def test_expected_version_zero_with_a_gap_or_backwards_versions_is_invalid() -> None:
    gap = _claim(ExplicitVersioning(0, 5), 5)
    assert gap.conflict(True, 2) is None
    error = gap.version_error(True, 2)
    assert isinstance(error, InvalidEventVersions)
    assert (error.expected_version, error.stream_version, error.required) == (0, 2, (3,))
    assert "without an expected version (expected_version=0)" in str(error)
    assert "from its version 2: they must carry version 3; they carry version 5" in str(error)

    backwards = _claim(ExplicitVersioning(0, 1), 2, 1)
    assert backwards.conflict(True, 5) is None  # no run of versions, so nothing was taken
    error = backwards.version_error(True, 5)
    assert error is not None
    assert error.required == (6, 7)
    assert _claim(ExplicitVersioning(0, 0), None).version_error(False, None) is not None


def test_a_checked_append_conflicts_unless_the_stream_is_at_the_expected_version() -> None:
    claim = _claim(ExplicitVersioning(2, 3), 3)

    assert claim.conflict(True, 2) is None
    for exists, version, args in [(True, 1, (1, 2)), (True, 3, (3, 2)), (False, None, (None, 2))]:
        conflict = claim.conflict(exists, version)
        assert isinstance(conflict, ConcurrentStreamWriteError)
        assert conflict.args == args


def test_a_long_append_gets_a_short_message() -> None:
    events = [_raw(n) for n in range(1, 1001)]
    claim = StreamClaim(STREAM, ExplicitVersioning(3, 1000), events)

    error = claim.version_error(True, 3)

    assert error is not None
    message = str(error)
    assert "expected_version=3 must carry versions 4 to 1003; they carry versions 1 to 1000" in (
        message
    )
    assert "'orders-7'" in message
    assert "'orders'" in message
    assert len(message) < 600
    scattered = StreamClaim(STREAM, ExplicitVersioning(0, 40), [_raw(n * 2) for n in range(1, 21)])
    error = scattered.version_error(False, None)
    assert error is not None
    assert "they carry versions 2, 4, 6, 8, 10, 12, 14, 16, ... (20 in all)" in str(error)


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
    unchecked = InvalidEventVersions(STREAM, 0, (9,), 4)
    copy = pickle.loads(pickle.dumps(unchecked))
    assert (copy.stream_version, copy.required, str(copy)) == (4, (5,), str(unchecked))
