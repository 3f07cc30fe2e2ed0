"""SQL-injection attempts through every identifier are stored verbatim; nothing is injected.

Stream names, categories, tenant ids and event names reach SQL only as bound parameters. Each
attempt is written, read back byte for byte, found by category and event-name subscriptions and
carried by the outbox, while another tenant's stream and every table stay intact.
"""

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections
from event_sourcery import Event, StreamId
from event_sourcery.event import Recorded

from eventhex_core_ports import ContainerBackend

from ._report import ReliabilityReport
from ._support import Noted, footprint
from .conftest import ALIASES, on_every_database

pytestmark = on_every_database

ATTEMPTS = [
    "x'); DROP TABLE eventhex_event; --",
    "' OR '1'='1",
    'a"; DELETE FROM eventhex_stream; --',
    "%s %(name)s {0} $1 ?",
    "\\'; SELECT pg_sleep(30); --",
    "1; UPDATE eventhex_stream SET tenant_id = '' WHERE TRUE; --",
    "*/ UNION SELECT * FROM eventhex_outboxentry /*",
]

INJECTED_EVENTS: dict[str, type[Event]] = {
    attempt: type(f"Injected{index}", (Event,), {"__event_name__": attempt})
    for index, attempt in enumerate(ATTEMPTS)
}


@pytest.mark.parametrize("attempt", ATTEMPTS)
def test_identifiers_are_stored_verbatim_and_inject_nothing(
    make_backend: Callable[..., ContainerBackend[Any]],
    adapter: str,
    reliability: ReliabilityReport,
    attempt: str,
) -> None:
    root = make_backend().with_outbox()
    victim_stream = StreamId(name="victim", category="safe")
    root.in_tenant_mode("victim").event_store.append(Noted(text="keep me"), stream_id=victim_stream)
    start = root.event_store.position or 0
    for where in ["stream name", "category", "tenant id", "event name"]:
        reliability.tried(f"SQL injection: {where}")
    tenant = root.in_tenant_mode(attempt)
    stream = StreamId(name=attempt, category=attempt)
    tenant.event_store.append(INJECTED_EVENTS[attempt](), stream_id=stream)

    [loaded] = tenant.event_store.load_stream(StreamId(name=attempt, category=attempt))
    assert type(loaded.event) is INJECTED_EVENTS[attempt]
    [record] = next(root.subscriber.start_from(start).to_category(attempt).build_batch(5, 0.2))
    assert (record.tenant_id, record.stream_id.name, record.stream_id.category) == (
        attempt,
        attempt,
        attempt,
    )
    [by_name] = next(
        root.subscriber.start_from(start).to_events([INJECTED_EVENTS[attempt]]).build_batch(5, 0.2)
    )
    assert by_name.wrapped_event.uuid == loaded.uuid
    published: list[Recorded] = []
    root.outbox.run(published.append)
    carried = {(r.tenant_id, r.stream_id.name, r.stream_id.category) for r in published}
    assert (attempt, attempt, attempt) in carried

    victim = root.in_tenant_mode("victim").event_store.load_stream(victim_stream)
    texts = [e.event.text for e in victim]  # type: ignore[attr-defined]
    assert texts == ["keep me"]
    assert footprint(root)["streams"] >= 2
    if adapter != "memory":
        tables = connections[ALIASES[adapter]].introspection.table_names()
        assert {"eventhex_event", "eventhex_stream", "eventhex_outboxentry"} <= set(tables)
    for where in ["stream name", "category", "tenant id", "event name"]:
        reliability.handled(f"SQL injection: {where}")
