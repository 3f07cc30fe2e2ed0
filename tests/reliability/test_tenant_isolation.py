"""A backend in tenant mode never reads, overwrites, deletes or snapshots another tenant's streams.

Same stream names and categories in two tenants are two streams. Subscriptions (store-wide) and
outbox messages carry the tenant that wrote each event. Runs on every adapter.
"""

from collections.abc import Callable
from typing import Any

import pytest
from event_sourcery import NO_VERSIONING, StreamId
from event_sourcery.event import Recorded, WrappedEvent
from event_sourcery.exceptions import ConcurrentStreamWriteError

from eventhex_core_ports import ContainerBackend

from ._report import ReliabilityReport
from ._support import Noted
from .conftest import on_every_database

pytestmark = on_every_database

Backends = Callable[..., ContainerBackend[Any]]


def _texts(backend: ContainerBackend[Any], stream: StreamId) -> list[str]:
    return [e.event.text for e in backend.event_store.load_stream(stream)]  # type: ignore[attr-defined]


def test_same_stream_name_in_two_tenants_is_two_streams(
    make_backend: Backends, reliability: ReliabilityReport
) -> None:
    root = make_backend()
    acme, globex = root.in_tenant_mode("acme"), root.in_tenant_mode("globex")
    stream = StreamId(name="order-1", category="order")
    acme.event_store.append(Noted(text="a1"), Noted(text="a2"), stream_id=stream)
    # expected_version=0 means "new": globex's order-1 is new although acme's exists
    globex.event_store.append(Noted(text="g1"), stream_id=stream, expected_version=0)
    attempts = {
        "overwrite at the other tenant's version": lambda: globex.event_store.append(
            Noted(text="evil"), stream_id=stream, expected_version=2
        ),
    }
    for label, attempt in attempts.items():
        reliability.tried(f"cross-tenant access: {label}")
        with pytest.raises(ConcurrentStreamWriteError):
            attempt()
        reliability.handled(f"cross-tenant access: {label}")
    reliability.tried("cross-tenant access: delete")
    globex.event_store.delete_stream(stream)
    assert _texts(acme, stream) == ["a1", "a2"]
    assert _texts(globex, stream) == []
    reliability.handled("cross-tenant access: delete")

    reliability.tried("cross-tenant access: snapshot")
    globex.event_store.save_snapshot(stream, WrappedEvent.wrap(Noted(text="forged"), version=5))
    assert _texts(acme, stream) == ["a1", "a2"]
    assert _texts(globex, stream) == ["forged"]
    acme.event_store.append(Noted(text="a3"), stream_id=stream, expected_version=2)
    assert _texts(acme, stream) == ["a1", "a2", "a3"]
    reliability.handled("cross-tenant access: snapshot")

    reliability.tried("cross-tenant access: read by uuid")
    by_uuid = StreamId(uuid=stream, category="order")
    assert _texts(root, by_uuid) == []  # the default tenant is a tenant too
    assert _texts(root.in_tenant_mode("acme"), by_uuid) == ["a1", "a2", "a3"]
    reliability.handled("cross-tenant access: read by uuid")


def test_subscriptions_and_outbox_messages_carry_the_writing_tenant(
    make_backend: Backends,
) -> None:
    root = make_backend().with_outbox()
    start = root.event_store.position or 0
    stream = StreamId(name="shared-name", category="shared")
    written = []
    for tenant in ["", "acme", "globex", "acme"]:
        text = f"{tenant or 'default'}-{len(written)}"
        root.in_tenant_mode(tenant).event_store.append(
            Noted(text=text), stream_id=stream, expected_version=NO_VERSIONING
        )
        written.append((tenant, text))
    batches = root.subscriber.start_from(start).to_category("shared").build_batch(10, 0.2)
    received = [(r.tenant_id, r.wrapped_event.event.text) for r in next(batches)]  # type: ignore[attr-defined]
    assert received == written
    published: list[Recorded] = []
    root.outbox.run(published.append)
    outboxed = [(r.tenant_id, r.wrapped_event.event.text) for r in published]  # type: ignore[attr-defined]
    assert sorted(outboxed) == sorted(written)
