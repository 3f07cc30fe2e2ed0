"""In-transaction listeners: called inside the append, for event types and categories."""

from typing import Any

import pytest
from event_sourcery import StreamId, TenantId
from event_sourcery.event import Position, WrappedEvent

from eventhex_core_ports.backend import ContainerBackend
from eventhex_core_ports.testing._helpers import new_stream
from eventhex_core_ports.testing.events import ContractItemAdded, ContractNoteTaken

__all__ = ["InTransactionContract"]


class _Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[Any, StreamId, TenantId, Position]] = []
        self.fail = fail

    def __call__(
        self,
        wrapped_event: WrappedEvent[Any],
        stream_id: StreamId,
        tenant_id: TenantId,
        position: int,
    ) -> None:
        self.calls.append((wrapped_event.event, stream_id, tenant_id, position))
        if self.fail:
            raise RuntimeError("listener refused the event")


class InTransactionContract:
    """Subclass and provide a ``backend`` fixture returning a configured backend."""

    @pytest.fixture
    def backend(self) -> ContainerBackend[Any]:
        raise NotImplementedError("provide a `backend` fixture returning a configured backend")

    def test_listener_receives_its_event_type(self, backend: ContainerBackend[Any]) -> None:
        listener = _Recorder()
        backend.in_transaction.register(listener, to=ContractItemAdded)
        stream = new_stream()

        backend.event_store.append(
            ContractItemAdded(item="a"), ContractNoteTaken(text="n"), stream_id=stream
        )

        assert [(e, s, t) for e, s, t, _ in listener.calls] == [
            (ContractItemAdded(item="a"), stream, "")
        ]

    def test_listener_receives_its_category(self, backend: ContainerBackend[Any]) -> None:
        listener = _Recorder()
        backend.in_transaction.register(listener, to="ledger")
        backend.event_store.append(ContractNoteTaken(text="x"), stream_id=new_stream("other"))
        backend.event_store.append(ContractNoteTaken(text="y"), stream_id=new_stream("ledger"))

        assert [e for e, *_ in listener.calls] == [ContractNoteTaken(text="y")]

    def test_listener_sees_tenant_and_position(self, backend: ContainerBackend[Any]) -> None:
        listener = _Recorder()
        backend.in_transaction.register(listener, to=ContractItemAdded)
        backend.in_tenant_mode("tenant-a").event_store.append(
            ContractItemAdded(item="a"), stream_id=new_stream()
        )

        ((_, _, tenant, position),) = listener.calls
        assert tenant == "tenant-a"
        assert position == backend.event_store.position

    def test_failing_listener_rolls_the_append_back(self, backend: ContainerBackend[Any]) -> None:
        backend.in_transaction.register(_Recorder(fail=True), to=ContractNoteTaken)
        stream = new_stream()

        with pytest.raises(RuntimeError, match="listener refused"):
            backend.event_store.append(
                ContractItemAdded(item="a"), ContractNoteTaken(text="n"), stream_id=stream
            )

        assert list(backend.event_store.load_stream(stream)) == []

    def test_rolled_back_append_frees_its_uuids(self, backend: ContainerBackend[Any]) -> None:
        refusing = _Recorder(fail=True)
        backend.in_transaction.register(refusing, to=ContractNoteTaken)
        event = WrappedEvent.wrap(ContractNoteTaken(text="n"), version=1)
        with pytest.raises(RuntimeError, match="listener refused"):
            backend.event_store.append(event, stream_id=new_stream())

        backend.in_transaction.remove(refusing, to=ContractNoteTaken)
        stream = new_stream()
        backend.event_store.append(event, stream_id=stream)
        assert [e.uuid for e in backend.event_store.load_stream(stream)] == [event.uuid]

    def test_removed_listener_is_not_called(self, backend: ContainerBackend[Any]) -> None:
        listener = _Recorder()
        backend.in_transaction.register(listener, to=ContractItemAdded)
        backend.in_transaction.remove(listener, to=ContractItemAdded)
        backend.event_store.append(ContractItemAdded(item="a"), stream_id=new_stream())
        assert listener.calls == []
