"""Storage contract: what every ``StorageStrategy`` adapter must do, through ``EventStore``."""

import concurrent.futures
import contextlib
import dataclasses
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from event_sourcery import NO_VERSIONING, StreamId
from event_sourcery.event import Context, WrappedEvent
from event_sourcery.exceptions import (
    ConcurrentStreamWriteError,
    ExpectedVersionUsedOnVersionlessStream,
    NoExpectedVersionGivenOnVersionedStream,
)

from eventhex_core_ports.backend import ContainerBackend
from eventhex_core_ports.errors import (
    DuplicateEventUuid,
)
from eventhex_core_ports.testing._event_versions import EventVersionsContract
from eventhex_core_ports.testing._helpers import CallerTransaction, new_stream
from eventhex_core_ports.testing.events import ContractItemAdded, ContractSnapshot

__all__ = ["ConcurrentWritersContract", "StorageContract"]


def _items(events: Any) -> list[str]:
    return [e.event.item if hasattr(e.event, "item") else f"snap:{e.version}" for e in events]


class StorageContract(EventVersionsContract):
    """Subclass and provide a ``backend`` fixture returning a configured backend.

    Includes the event-version checks of ``EventVersionsContract`` (an append's event versions
    continue the stream from its expected version, or it raises ``InvalidEventVersions``).

    An adapter whose appends can join a caller's transaction also overrides
    ``caller_transaction`` (for Django: ``lambda: transaction.atomic(using=alias)``); the
    default opens none.

    Example:
        >>> class TestMyStorage(StorageContract):
        ...     @pytest.fixture
        ...     def backend(self) -> ContainerBackend: return MyBackend().configure()
    """

    @pytest.fixture
    def backend(self) -> ContainerBackend[Any]:
        raise NotImplementedError("provide a `backend` fixture returning a configured backend")

    @pytest.fixture
    def caller_transaction(self) -> CallerTransaction:
        return contextlib.nullcontext

    def test_appended_events_load_back_unchanged(self, backend: ContainerBackend[Any]) -> None:
        stream = new_stream()
        context = Context(correlation_id=uuid4(), causation_id=uuid4())
        created = datetime(2024, 2, 29, 23, 59, 58, 123456)
        written = WrappedEvent(
            event=ContractItemAdded(item="ä €", quantity=3),
            version=1,
            created_at=created,
            context=context,
        )
        backend.event_store.append(written, stream_id=stream)

        (loaded,) = backend.event_store.load_stream(stream)

        assert loaded.event == written.event
        assert (loaded.uuid, loaded.version, loaded.created_at) == (written.uuid, 1, created)
        assert loaded.context.correlation_id == context.correlation_id
        assert loaded.context.causation_id == context.causation_id

    def test_every_kind_of_context_loads_back_equal(self, backend: ContainerBackend[Any]) -> None:
        """The plain context, ids, components and legacy fields all survive storage, in
        appends, loads and subscriptions alike."""
        with_ids = Context(correlation_id=uuid4(), causation_id=uuid4())
        with_components = Context(components={"tracing": {"span": "s1", "sampled": True}})
        legacy = Context()
        legacy._legacy_fields = {"user": "alice", "request": {"ip": "10.0.0.1"}}
        contexts = [Context(), with_ids, with_components, legacy]
        stream = new_stream()
        start = backend.event_store.position or 0
        backend.event_store.append(
            *(
                WrappedEvent(event=ContractItemAdded(item=str(n)), version=n + 1, context=context)
                for n, context in enumerate(contexts)
            ),
            stream_id=stream,
        )

        loaded = [event.context for event in backend.event_store.load_stream(stream)]
        batch = next(backend.subscriber.start_from(start).build_batch(len(contexts), 1))
        delivered = [record.wrapped_event.context for record in batch]

        for found in (loaded, delivered):
            assert found == contexts
            assert [c._legacy_fields for c in found] == [c._legacy_fields for c in contexts]

    def test_versions_count_from_one_across_appends(self, backend: ContainerBackend[Any]) -> None:
        stream = new_stream()
        store = backend.event_store
        store.append(ContractItemAdded(item="a"), ContractItemAdded(item="b"), stream_id=stream)
        store.append(ContractItemAdded(item="c"), stream_id=stream, expected_version=2)

        assert [e.version for e in store.load_stream(stream)] == [1, 2, 3]
        assert _items(store.load_stream(stream)) == ["a", "b", "c"]

    def test_load_range_is_start_inclusive_stop_exclusive(
        self, backend: ContainerBackend[Any]
    ) -> None:
        stream = new_stream()
        backend.event_store.append(
            *(ContractItemAdded(item=str(n)) for n in range(1, 6)), stream_id=stream
        )

        assert _items(backend.event_store.load_stream(stream, start=2, stop=4)) == ["2", "3"]
        assert _items(backend.event_store.load_stream(stream, start=4)) == ["4", "5"]
        assert _items(backend.event_store.load_stream(stream, stop=2)) == ["1"]

    def test_missing_stream_loads_empty(self, backend: ContainerBackend[Any]) -> None:
        assert list(backend.event_store.load_stream(new_stream())) == []

    def test_wrong_expected_version_conflicts(self, backend: ContainerBackend[Any]) -> None:
        stream = new_stream()
        backend.event_store.append(ContractItemAdded(item="a"), stream_id=stream)

        with pytest.raises(ConcurrentStreamWriteError):
            backend.event_store.append(
                ContractItemAdded(item="b"), stream_id=stream, expected_version=5
            )
        with pytest.raises(ConcurrentStreamWriteError):
            backend.event_store.append(ContractItemAdded(item="b"), stream_id=stream)

        assert _items(backend.event_store.load_stream(stream)) == ["a"]

    def test_expected_version_on_new_stream_conflicts(self, backend: ContainerBackend[Any]) -> None:
        stream = new_stream()
        with pytest.raises(ConcurrentStreamWriteError):
            backend.event_store.append(
                ContractItemAdded(item="a"), stream_id=stream, expected_version=3
            )
        assert list(backend.event_store.load_stream(stream)) == []

    def test_no_versioning_accepts_any_append(self, backend: ContainerBackend[Any]) -> None:
        stream = new_stream()
        for item in "abc":
            backend.event_store.append(
                ContractItemAdded(item=item), stream_id=stream, expected_version=NO_VERSIONING
            )

        loaded = backend.event_store.load_stream(stream)
        assert _items(loaded) == ["a", "b", "c"]
        assert {e.version for e in loaded} == {None}

    def test_unversioned_range_counts_events_from_one(self, backend: ContainerBackend[Any]) -> None:
        """Without versions a range counts the stream's events, 1-based, as event_sourcery's
        in-memory backend does; ``stop=0`` (like any empty range) loads nothing."""
        stream = new_stream()
        for item in "abcd":
            backend.event_store.append(
                ContractItemAdded(item=item), stream_id=stream, expected_version=NO_VERSIONING
            )
        load = backend.event_store.load_stream

        assert _items(load(stream, start=2, stop=4)) == ["b", "c"]
        assert _items(load(stream, start=3)) == ["c", "d"]
        assert _items(load(stream, stop=2)) == ["a"]
        assert _items(load(stream, start=0)) == ["a", "b", "c", "d"]
        assert _items(load(stream, stop=0)) == []
        assert _items(load(stream, start=0, stop=0)) == []

    def test_versioning_modes_cannot_be_mixed(self, backend: ContainerBackend[Any]) -> None:
        versioned, unversioned = new_stream(), new_stream()
        backend.event_store.append(ContractItemAdded(item="a"), stream_id=versioned)
        backend.event_store.append(
            ContractItemAdded(item="a"), stream_id=unversioned, expected_version=NO_VERSIONING
        )

        with pytest.raises(NoExpectedVersionGivenOnVersionedStream):
            backend.event_store.append(
                ContractItemAdded(item="b"), stream_id=versioned, expected_version=NO_VERSIONING
            )
        with pytest.raises(ExpectedVersionUsedOnVersionlessStream):
            backend.event_store.append(
                ContractItemAdded(item="b"), stream_id=unversioned, expected_version=1
            )

    def test_named_stream_is_found_by_name(self, backend: ContainerBackend[Any]) -> None:
        stream = new_stream(named=True)
        backend.event_store.append(ContractItemAdded(item="a"), stream_id=stream)

        same = StreamId(name=stream.name)
        assert _items(backend.event_store.load_stream(same)) == ["a"]
        assert same == StreamId(uuid=stream, name=stream.name)

    def test_category_is_part_of_stream_identity(self, backend: ContainerBackend[Any]) -> None:
        name = f"contract-{uuid4().hex}"
        in_orders = StreamId(name=name, category="orders")
        in_invoices = StreamId(name=name, category="invoices")
        backend.event_store.append(ContractItemAdded(item="o"), stream_id=in_orders)
        backend.event_store.append(ContractItemAdded(item="i"), stream_id=in_invoices)

        assert _items(backend.event_store.load_stream(in_orders)) == ["o"]
        assert _items(backend.event_store.load_stream(in_invoices)) == ["i"]

    def test_snapshot_replaces_the_events_before_it(self, backend: ContainerBackend[Any]) -> None:
        stream = new_stream()
        store = backend.event_store
        store.append(*(ContractItemAdded(item=str(n)) for n in range(1, 4)), stream_id=stream)
        store.save_snapshot(
            stream, WrappedEvent.wrap(ContractSnapshot(items=["1", "2", "3"]), version=3)
        )
        store.append(ContractItemAdded(item="4"), stream_id=stream, expected_version=3)

        loaded = store.load_stream(stream)
        assert isinstance(loaded[0].event, ContractSnapshot)
        assert [e.version for e in loaded] == [3, 4]

    def test_newest_snapshot_wins_and_range_applies(self, backend: ContainerBackend[Any]) -> None:
        stream = new_stream()
        store = backend.event_store
        store.append(*(ContractItemAdded(item=str(n)) for n in range(1, 5)), stream_id=stream)
        store.save_snapshot(stream, WrappedEvent.wrap(ContractSnapshot(items=["a"]), version=2))
        store.save_snapshot(stream, WrappedEvent.wrap(ContractSnapshot(items=["b"]), version=3))

        newest = store.load_stream(stream)
        assert [e.version for e in newest] == [3, 4]
        assert newest[0].event == ContractSnapshot(items=["b"])
        assert [e.version for e in store.load_stream(stream, stop=3)] == [2]
        assert _items(store.load_stream(stream, start=4)) == ["4"]

    def test_deleted_stream_is_gone_and_can_start_again(
        self, backend: ContainerBackend[Any]
    ) -> None:
        stream = new_stream(named=True)
        store = backend.event_store
        store.append(ContractItemAdded(item="a"), stream_id=stream)
        store.save_snapshot(stream, WrappedEvent.wrap(ContractSnapshot(items=["a"]), version=1))

        store.delete_stream(stream)
        store.delete_stream(new_stream())  # missing: a no-op

        assert list(store.load_stream(stream)) == []
        store.append(ContractItemAdded(item="again"), stream_id=stream)
        assert [(e.version, e.event) for e in store.load_stream(stream)] == [
            (1, ContractItemAdded(item="again"))
        ]

    def test_tenants_are_isolated(self, backend: ContainerBackend[Any]) -> None:
        stream = new_stream(named=True)
        first, second = backend.in_tenant_mode("tenant-a"), backend.in_tenant_mode("tenant-b")
        first.event_store.append(ContractItemAdded(item="a"), stream_id=stream)
        second.event_store.append(ContractItemAdded(item="b1"), stream_id=stream)
        second.event_store.append(
            ContractItemAdded(item="b2"), stream_id=stream, expected_version=1
        )

        assert _items(first.event_store.load_stream(stream)) == ["a"]
        assert _items(second.event_store.load_stream(stream)) == ["b1", "b2"]
        assert list(backend.event_store.load_stream(stream)) == []
        second.event_store.delete_stream(stream)
        assert _items(first.event_store.load_stream(stream)) == ["a"]

    def test_tenant_view_is_an_independent_copy(self, backend: ContainerBackend[Any]) -> None:
        tenant = backend.in_tenant_mode("tenant-a")
        assert tenant is not backend
        assert tenant.in_transaction is backend.in_transaction
        assert backend.in_tenant_mode("tenant-b").event_store is not None
        stream = new_stream()
        tenant.event_store.append(ContractItemAdded(item="a"), stream_id=stream)
        assert list(backend.event_store.load_stream(stream)) == []

    def test_position_moves_forward_with_appends(self, backend: ContainerBackend[Any]) -> None:
        store = backend.event_store
        before = store.position or 0
        store.append(ContractItemAdded(item="a"), stream_id=new_stream())
        middle = store.position or 0
        store.append(ContractItemAdded(item="b"), stream_id=new_stream())

        assert before < middle < (store.position or 0)

    def test_created_at_keeps_timezone_aware_instants(self, backend: ContainerBackend[Any]) -> None:
        stream = new_stream()
        instant = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
        backend.event_store.append(
            WrappedEvent(event=ContractItemAdded(item="a"), version=1, created_at=instant),
            stream_id=stream,
        )
        (loaded,) = backend.event_store.load_stream(stream)
        as_utc = (
            loaded.created_at if loaded.created_at.tzinfo else loaded.created_at.replace(tzinfo=UTC)
        )
        assert as_utc == instant

    def test_same_wrapped_event_appended_twice_is_rejected(
        self, backend: ContainerBackend[Any]
    ) -> None:
        store = backend.event_store
        unversioned, versioned = new_stream(), new_stream(named=True)
        loose = WrappedEvent.wrap(ContractItemAdded(item="a"), version=None)
        first = WrappedEvent.wrap(ContractItemAdded(item="v1"), version=1)
        store.append(loose, stream_id=unversioned, expected_version=NO_VERSIONING)
        store.append(first, stream_id=versioned)

        with pytest.raises(DuplicateEventUuid) as raised:
            store.append(loose, stream_id=unversioned, expected_version=NO_VERSIONING)
        with pytest.raises(DuplicateEventUuid) as raised_versioned:
            store.append(first, stream_id=versioned, expected_version=1)

        assert raised.value.uuids == (loose.uuid,)
        assert raised.value.already_stored
        message = str(raised_versioned.value)
        assert str(first.uuid) in message
        assert str(versioned.name) in message
        assert "WrappedEvent.wrap" in message
        assert _items(store.load_stream(unversioned)) == ["a"]
        store.append(ContractItemAdded(item="v2"), stream_id=versioned, expected_version=1)
        assert [e.version for e in store.load_stream(versioned)] == [1, 2]

    def test_repeated_uuid_within_one_append_is_rejected(
        self, backend: ContainerBackend[Any]
    ) -> None:
        store = backend.event_store
        stream = new_stream()
        event = WrappedEvent.wrap(ContractItemAdded(item="a"), version=1)
        twin = dataclasses.replace(event, version=2)

        with pytest.raises(DuplicateEventUuid) as raised:
            store.append(event, twin, stream_id=stream)

        assert raised.value.uuids == (event.uuid,)
        assert not raised.value.already_stored
        assert str(event.uuid) in str(raised.value)
        assert list(store.load_stream(stream)) == []
        store.append(event, stream_id=stream)  # the stream is still new, the uuid still free
        assert _items(store.load_stream(stream)) == ["a"]

    def test_uuid_stored_in_another_stream_is_rejected(
        self, backend: ContainerBackend[Any]
    ) -> None:
        store = backend.event_store
        elsewhere, target = new_stream(), new_stream("orders", named=True)
        stored = WrappedEvent.wrap(ContractItemAdded(item="stored"), version=1)
        store.append(stored, stream_id=elsewhere)
        fresh = WrappedEvent.wrap(ContractItemAdded(item="fresh"), version=1)
        again = dataclasses.replace(stored, version=2)

        with pytest.raises(DuplicateEventUuid) as raised:
            store.append(fresh, again, stream_id=target)
        with pytest.raises(DuplicateEventUuid):
            backend.in_tenant_mode("tenant-a").event_store.append(
                dataclasses.replace(stored), stream_id=target
            )

        assert raised.value.uuids == (stored.uuid,)
        assert raised.value.stream_id == target
        assert "'orders'" in str(raised.value)
        assert list(store.load_stream(target)) == []
        store.append(fresh, stream_id=target)  # nothing of the failed append was kept
        assert _items(store.load_stream(target)) == ["fresh"]
        assert _items(store.load_stream(elsewhere)) == ["stored"]

    def test_deleted_stream_frees_its_event_uuids(self, backend: ContainerBackend[Any]) -> None:
        store = backend.event_store
        stream = new_stream()
        event = WrappedEvent.wrap(ContractItemAdded(item="a"), version=1)
        store.append(event, stream_id=stream)

        store.delete_stream(stream)
        store.append(event, stream_id=new_stream())

        with pytest.raises(DuplicateEventUuid):
            store.append(event, stream_id=stream)

    def test_duplicate_inside_a_caller_transaction_leaves_it_usable(
        self, backend: ContainerBackend[Any], caller_transaction: CallerTransaction
    ) -> None:
        store = backend.event_store
        elsewhere, target = new_stream(), new_stream()
        stored = WrappedEvent.wrap(ContractItemAdded(item="stored"), version=1)
        store.append(stored, stream_id=elsewhere)

        with caller_transaction():
            store.append(ContractItemAdded(item="before"), stream_id=target)
            with pytest.raises(DuplicateEventUuid):
                store.append(
                    dataclasses.replace(stored, version=2), stream_id=target, expected_version=1
                )
            store.append(ContractItemAdded(item="after"), stream_id=target, expected_version=1)

        assert _items(store.load_stream(target)) == ["before", "after"]


class ConcurrentWritersContract:
    """Writers racing on one new stream from several threads.

    Provide a ``backend`` fixture whose storage is safe to use from other threads (for Django:
    a ``transactional_db`` test, since each thread opens its own connection).
    """

    @pytest.fixture
    def backend(self) -> ContainerBackend[Any]:
        raise NotImplementedError("provide a `backend` fixture usable from several threads")

    def test_concurrent_first_writes_let_exactly_one_win(
        self, backend: ContainerBackend[Any]
    ) -> None:
        stream = new_stream(named=True)

        def write(n: int) -> str:
            try:
                backend.event_store.append(ContractItemAdded(item=str(n)), stream_id=stream)
            except ConcurrentStreamWriteError:
                return "conflict"
            return "ok"

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            outcomes = list(pool.map(write, range(8)))

        assert outcomes.count("ok") == 1
        assert outcomes.count("conflict") == 7
        assert len(backend.event_store.load_stream(stream)) == 1

    def test_concurrent_continuations_without_expected_version_let_exactly_one_win(
        self, backend: ContainerBackend[Any]
    ) -> None:
        stream = new_stream(named=True)
        backend.event_store.append(ContractItemAdded(item="first"), stream_id=stream)

        def write(n: int) -> str:
            event = WrappedEvent.wrap(ContractItemAdded(item=str(n)), version=2)
            try:
                backend.event_store.append(event, stream_id=stream)
            except ConcurrentStreamWriteError:
                return "conflict"
            return "ok"

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            outcomes = list(pool.map(write, range(8)))

        assert outcomes.count("ok") == 1
        assert outcomes.count("conflict") == 7
        assert [e.version for e in backend.event_store.load_stream(stream)] == [1, 2]
