"""Storage contract, event versions: an append's events continue the stream, or nothing is written.

Part of :class:`~eventhex_core_ports.testing.StorageContract`, which provides the ``backend`` and
``caller_transaction`` fixtures these tests use.
"""

import dataclasses
from typing import Any
from uuid import uuid4

import pytest
from event_sourcery import NO_VERSIONING, StreamId
from event_sourcery.event import WrappedEvent
from event_sourcery.exceptions import (
    AnotherStreamWithThisNameButOtherIdExists,
    ConcurrentStreamWriteError,
    NoExpectedVersionGivenOnVersionedStream,
)

from eventhex_core_ports.backend import ContainerBackend
from eventhex_core_ports.errors import (
    DuplicateEventUuid,
    InvalidEventVersions,
)
from eventhex_core_ports.testing._helpers import CallerTransaction, new_stream
from eventhex_core_ports.testing.events import ContractItemAdded, ContractSnapshot

__all__ = ["EventVersionsContract"]


def _wrapped(*versions: int | None) -> list[WrappedEvent[ContractItemAdded]]:
    return [WrappedEvent.wrap(ContractItemAdded(item=f"v{v}"), version=v) for v in versions]


def _versions(backend: ContainerBackend[Any], stream: StreamId) -> list[int | None]:
    return [e.version for e in backend.event_store.load_stream(stream)]


BAD_FIRST_APPENDS = {
    "repeated version": (1, 1),
    "gap before the first": (2,),
    "gap between two": (1, 3),
    "out of order": (2, 1),
    "no version": (None,),
    "one without a version": (1, None),
}
"""Event versions that an append creating a stream (``expected_version=0``) must not carry."""


class EventVersionsContract:
    """An append with ``expected_version=N`` carries versions N+1, N+2, ...; NO_VERSIONING none.

    With the default ``expected_version=0`` nothing is expected of the stream's version, but the
    events' versions must continue it: versions another writer took raise
    ``ConcurrentStreamWriteError``. Anything else raises ``InvalidEventVersions`` and writes
    nothing, on every adapter, after the versioning and stored-uuid checks.
    """

    def test_default_expected_version_appends_versions_that_continue_the_stream(
        self, backend: ContainerBackend[Any]
    ) -> None:
        store = backend.event_store
        stream = new_stream()
        store.append(*_wrapped(1, 2), stream_id=stream)

        store.append(*_wrapped(3), stream_id=stream)
        store.append(*_wrapped(4, 5), stream_id=stream)

        assert _versions(backend, stream) == [1, 2, 3, 4, 5]
        store.append(ContractItemAdded(item="v6"), stream_id=stream, expected_version=5)
        assert _versions(backend, stream) == [1, 2, 3, 4, 5, 6]

    @pytest.mark.parametrize("versions", [(1,), (2,), (2, 3), (1, 2, 3)])
    def test_default_expected_version_on_a_taken_version_is_a_concurrent_write(
        self, backend: ContainerBackend[Any], versions: tuple[int, ...]
    ) -> None:
        store = backend.event_store
        stream = new_stream(named=True)
        store.append(*_wrapped(1, 2), stream_id=stream)
        position = store.position

        with pytest.raises(ConcurrentStreamWriteError) as raised:
            store.append(*_wrapped(*versions), stream_id=stream)

        assert raised.value.args == (2, versions[0] - 1)
        with pytest.raises(ConcurrentStreamWriteError):  # a plain event is numbered 1
            store.append(ContractItemAdded(item="again"), stream_id=stream)
        assert _versions(backend, stream) == [1, 2]
        assert store.position == position

    def test_default_expected_version_with_a_gap_is_invalid(
        self, backend: ContainerBackend[Any]
    ) -> None:
        store = backend.event_store
        stream, fresh = new_stream(), new_stream()
        store.append(*_wrapped(1, 2), stream_id=stream)

        with pytest.raises(InvalidEventVersions) as raised:
            store.append(*_wrapped(4, 5), stream_id=stream)
        with pytest.raises(InvalidEventVersions) as on_new_stream:
            store.append(*_wrapped(3), stream_id=fresh)

        error = raised.value
        assert (error.expected_version, error.stream_version) == (0, 2)
        assert (error.versions, error.required) == ((4, 5), (3, 4))
        assert "without an expected version (expected_version=0)" in str(error)
        assert "wrote nothing" in str(error)
        assert (on_new_stream.value.stream_version, on_new_stream.value.required) == (0, (1,))
        assert _versions(backend, stream) == [1, 2]
        assert list(store.load_stream(fresh)) == []
        store.append(*_wrapped(1), stream_id=fresh)
        assert _versions(backend, fresh) == [1]

    def test_default_expected_version_continues_from_a_snapshot(
        self, backend: ContainerBackend[Any]
    ) -> None:
        store = backend.event_store
        stream = new_stream()
        store.save_snapshot(stream, WrappedEvent.wrap(ContractSnapshot(items=[]), version=3))

        with pytest.raises(ConcurrentStreamWriteError):
            store.append(*_wrapped(3), stream_id=stream)
        store.append(*_wrapped(4), stream_id=stream)

        assert _versions(backend, stream) == [3, 4]

    def test_a_stream_name_held_by_another_stream_id_is_refused(
        self, backend: ContainerBackend[Any]
    ) -> None:
        class OtherNamespaceStreamId(StreamId):
            NAMESPACE = uuid4()

        store = backend.event_store
        stream = new_stream(named=True)
        store.append(ContractItemAdded(item="first"), stream_id=stream)
        impostor = OtherNamespaceStreamId(name=stream.name)
        assert impostor != stream

        with pytest.raises(AnotherStreamWithThisNameButOtherIdExists) as raised:
            store.append(ContractItemAdded(item="second"), stream_id=impostor)

        assert str(stream.name) in str(raised.value)
        assert list(store.load_stream(impostor)) == []
        assert _versions(backend, stream) == [1]

    def test_event_version_already_in_the_stream_is_rejected(
        self, backend: ContainerBackend[Any]
    ) -> None:
        store = backend.event_store
        stream = new_stream(named=True)
        store.append(ContractItemAdded(item="v1"), stream_id=stream)
        position = store.position
        (clashing,) = _wrapped(1)

        with pytest.raises(InvalidEventVersions) as raised:
            store.append(clashing, stream_id=stream, expected_version=1)

        error = raised.value
        assert (error.stream_id, error.expected_version) == (stream, 1)
        assert (error.versions, error.required) == ((1,), (2,))
        message = str(error)
        assert str(stream.name) in message
        assert "expected_version=1 must carry version 2; they carry version 1" in message
        assert "wrote nothing" in message
        assert "version=expected_version + n" in message
        assert _versions(backend, stream) == [1]
        assert store.position == position
        store.append(dataclasses.replace(clashing, version=2), stream_id=stream, expected_version=1)
        assert _versions(backend, stream) == [1, 2]

    @pytest.mark.parametrize("versions", BAD_FIRST_APPENDS.values(), ids=list(BAD_FIRST_APPENDS))
    def test_versions_within_one_append_must_count_on_from_the_expected_one(
        self, backend: ContainerBackend[Any], versions: tuple[int | None, ...]
    ) -> None:
        store = backend.event_store
        stream = new_stream()
        events = _wrapped(*versions)

        with pytest.raises(InvalidEventVersions) as raised:
            store.append(*events, stream_id=stream)

        assert raised.value.versions == versions
        assert raised.value.required == tuple(range(1, len(versions) + 1))
        assert list(store.load_stream(stream)) == []
        renumbered = [dataclasses.replace(e, version=n) for n, e in enumerate(events, start=1)]
        store.append(*renumbered, stream_id=stream)  # the stream is still new, the uuids free
        assert _versions(backend, stream) == list(range(1, len(versions) + 1))

    def test_later_append_must_continue_from_the_stream_version(
        self, backend: ContainerBackend[Any]
    ) -> None:
        store = backend.event_store
        stream = new_stream()
        store.append(*_wrapped(1, 2), stream_id=stream)

        for versions in [(4,), (3, 3), (3, 5), (2, 3)]:
            with pytest.raises(InvalidEventVersions) as raised:
                store.append(*_wrapped(*versions), stream_id=stream, expected_version=2)
            assert raised.value.required == tuple(range(3, 3 + len(versions)))

        assert _versions(backend, stream) == [1, 2]
        store.append(*_wrapped(3, 4), stream_id=stream, expected_version=2)
        assert _versions(backend, stream) == [1, 2, 3, 4]

    def test_unversioned_append_carries_no_versions(self, backend: ContainerBackend[Any]) -> None:
        store = backend.event_store
        stream = new_stream(named=True)
        store.append(*_wrapped(None), stream_id=stream, expected_version=NO_VERSIONING)

        for versions in [(1,), (None, 2)]:
            with pytest.raises(InvalidEventVersions) as raised:
                store.append(*_wrapped(*versions), stream_id=stream, expected_version=NO_VERSIONING)
            assert raised.value.expected_version is None
            assert raised.value.required == (None,) * len(versions)
            assert "NO_VERSIONING" in str(raised.value)
            assert "version=None" in str(raised.value)

        with pytest.raises(InvalidEventVersions):  # a new stream too
            store.append(*_wrapped(1), stream_id=new_stream(), expected_version=NO_VERSIONING)
        store.append(*_wrapped(None), stream_id=stream, expected_version=NO_VERSIONING)
        assert _versions(backend, stream) == [None, None]

    def test_append_after_a_snapshot_continues_from_the_snapshot_version(
        self, backend: ContainerBackend[Any]
    ) -> None:
        store = backend.event_store
        stream = new_stream()
        store.save_snapshot(stream, WrappedEvent.wrap(ContractSnapshot(items=[]), version=3))

        with pytest.raises(InvalidEventVersions) as raised:
            store.append(*_wrapped(1), stream_id=stream, expected_version=3)

        assert raised.value.required == (4,)
        store.append(ContractItemAdded(item="v4"), stream_id=stream, expected_version=3)
        assert _versions(backend, stream) == [3, 4]

    def test_versioning_and_stored_uuids_are_checked_before_event_versions(
        self, backend: ContainerBackend[Any]
    ) -> None:
        store = backend.event_store
        stream, elsewhere = new_stream(), new_stream()
        store.append(*_wrapped(1, 2), stream_id=stream)
        (stored,) = _wrapped(1)
        store.append(stored, stream_id=elsewhere)

        with pytest.raises(ConcurrentStreamWriteError):  # the stream is at 2, not 1
            store.append(*_wrapped(7), stream_id=stream, expected_version=1)
        with pytest.raises(ConcurrentStreamWriteError):  # version 2 is taken
            store.append(*_wrapped(2, 3), stream_id=stream)
        with pytest.raises(ConcurrentStreamWriteError):  # missing, and 1 does not follow 5
            store.append(*_wrapped(1), stream_id=new_stream(), expected_version=5)
        with pytest.raises(NoExpectedVersionGivenOnVersionedStream):
            store.append(*_wrapped(3), stream_id=stream, expected_version=NO_VERSIONING)
        with pytest.raises(DuplicateEventUuid):
            store.append(
                dataclasses.replace(stored, version=9), stream_id=stream, expected_version=2
            )
        with pytest.raises(DuplicateEventUuid):  # and a gap after version 2
            store.append(dataclasses.replace(stored, version=9), stream_id=stream)

        assert _versions(backend, stream) == [1, 2]

    def test_rejected_versions_inside_a_caller_transaction_leave_it_usable(
        self, backend: ContainerBackend[Any], caller_transaction: CallerTransaction
    ) -> None:
        store = backend.event_store
        stream = new_stream()

        with caller_transaction():
            store.append(ContractItemAdded(item="before"), stream_id=stream)
            with pytest.raises(InvalidEventVersions):
                store.append(*_wrapped(1), stream_id=stream, expected_version=1)
            store.append(ContractItemAdded(item="after"), stream_id=stream, expected_version=1)

        loaded = [(e.version, getattr(e.event, "item", None)) for e in store.load_stream(stream)]
        assert loaded == [(1, "before"), (2, "after")]

    def test_a_lost_race_inside_a_caller_transaction_leaves_it_usable(
        self, backend: ContainerBackend[Any], caller_transaction: CallerTransaction
    ) -> None:
        store = backend.event_store
        stream = new_stream(named=True)
        store.append(ContractItemAdded(item="first"), stream_id=stream)

        with caller_transaction():
            with pytest.raises(ConcurrentStreamWriteError):  # version 1 is taken
                store.append(ContractItemAdded(item="again"), stream_id=stream)
            with pytest.raises(ConcurrentStreamWriteError):
                store.append(ContractItemAdded(item="again"), stream_id=stream, expected_version=5)
            store.append(ContractItemAdded(item="second"), stream_id=stream, expected_version=1)

        loaded = [(e.version, getattr(e.event, "item", None)) for e in store.load_stream(stream)]
        assert loaded == [(1, "first"), (2, "second")]
