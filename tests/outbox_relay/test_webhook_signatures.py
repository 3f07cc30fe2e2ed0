"""Webhook signatures bind everything a receiver acts on, and the documented verifier says so.

The reference verifier is taken from docs/relay.md as written and run against real requests the
relay posted to a local endpoint: the genuine request verifies; a replay with any CloudEvents
attribute, eventhex header, body byte or the timestamp changed, a header added or one removed,
does not.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import pytest

from eventhex_core_ports.in_memory.relay_source import InMemoryOutboxSource
from eventhex_outbox_relay import Relay
from eventhex_outbox_relay.publishers.webhook import WebhookPublisher
from tests.outbox_relay._webhook_sink import WebhookSink
from tests.reliability._report import ReliabilityReport

SECRET = "s3cret"
DOC = Path(__file__).resolve().parents[2] / "docs" / "relay.md"
Headers = list[tuple[str, str]]
Verify = Callable[..., bool]


def _reference_verifier() -> Verify:
    text = DOC.read_text()
    match = re.search(r"<!-- reference-verifier -->\n```python\n(.*?)```", text, re.S)
    assert match is not None, "docs/relay.md has no reference verifier"
    namespace: dict[str, Any] = {"__name__": "reference_verifier"}
    exec(compile(match[1], str(DOC), "exec"), namespace)  # the docs' code, as written
    return cast(Verify, namespace["verify"])


def _posted(
    sink: WebhookSink, quick_relay: Callable[..., Relay], envelope: str, tenant: str
) -> tuple[Headers, bytes]:
    source = InMemoryOutboxSource()
    source.enqueue(
        event_name="PaymentCaptured",
        stream_name="payment-1",
        stream_category="payment",
        tenant_id=tenant,
        version=1,
        data={"amount": 100},
    )
    publisher = WebhookPublisher(sink.url, secret=SECRET, envelope=envelope)
    assert quick_relay(source, publisher).run(drain=True).published == 1
    [request] = sink.requests
    return request


def _changed(headers: Headers, name: str, value: str) -> Headers:
    found = [n for n, _ in headers if n.lower() == name]
    assert found, f"{name} was not sent"
    return [(n, value if n.lower() == name else v) for n, v in headers]


def _forgeries(headers: Headers, body: bytes, attributes: Sequence[str]) -> dict[str, Headers]:
    forged = {f"{name} changed": _changed(headers, name, "forged") for name in attributes}
    forged["ce-tenantid added"] = [*headers, ("ce-tenantid", "tenant-b")]
    forged["a signed header removed"] = [(n, v) for n, v in headers if n.lower() != attributes[0]]
    forged["a signed header repeated"] = [*headers, (attributes[0], "forged")]
    stamp = next(v for n, v in headers if n.lower() == "x-eventhex-timestamp")
    forged["timestamp moved"] = _changed(headers, "x-eventhex-timestamp", str(int(stamp) + 1))
    return forged


CLOUDEVENT_ATTRIBUTES = [
    "ce-id",
    "ce-type",
    "ce-source",
    "ce-subject",
    "ce-time",
    "ce-tenantid",
    "ce-specversion",
    "ce-partitionkey",
    "ce-streamname",
    "content-type",
]


@pytest.mark.parametrize(
    ("envelope", "tenant", "attributes"),
    [
        ("cloudevents", "tenant-a", CLOUDEVENT_ATTRIBUTES),
        (
            "eventhex",
            "tenant-a",
            [
                "x-eventhex-event-id",
                "x-eventhex-event-name",
                "x-eventhex-event-version",
                "x-eventhex-partition-key",
            ],
        ),
    ],
)
def test_the_reference_verifier_rejects_every_changed_replay(
    envelope: str,
    tenant: str,
    attributes: list[str],
    webhook: WebhookSink,
    quick_relay: Callable[..., Relay],
    reliability: ReliabilityReport,
) -> None:
    verify = _reference_verifier()
    headers, body = _posted(webhook, quick_relay, envelope, tenant)
    assert verify(SECRET.encode(), headers, body)
    listed = next(v for n, v in headers if n.lower() == "x-eventhex-signed-headers").split(",")
    assert set(attributes) <= set(listed)
    for label, forged in _forgeries(headers, body, attributes).items():
        reliability.tried(f"webhook signature: {label}")
        assert not verify(SECRET.encode(), forged, body), label
        reliability.handled(f"webhook signature: {label}")
    reliability.tried("webhook signature: body changed")
    assert not verify(SECRET.encode(), headers, body.replace(b"100", b"900"))
    reliability.handled("webhook signature: body changed")
    reliability.tried("webhook signature: old timestamp replayed")
    assert not verify(SECRET.encode(), headers, body, now=time.time() + 301)
    reliability.handled("webhook signature: old timestamp replayed")
    assert not verify(b"another secret", headers, body)


def test_a_default_tenant_event_cannot_be_given_a_tenant(
    webhook: WebhookSink, quick_relay: Callable[..., Relay], reliability: ReliabilityReport
) -> None:
    """The default tenant sends no ``ce-tenantid``; adding one is caught though no signed
    header changed."""
    verify = _reference_verifier()
    headers, body = _posted(webhook, quick_relay, "cloudevents", "")
    assert not any(n.lower() == "ce-tenantid" for n, _ in headers)
    assert verify(SECRET.encode(), headers, body)
    reliability.tried("webhook signature: ce-tenantid added to the default tenant")
    assert not verify(SECRET.encode(), [*headers, ("Ce-TenantId", "tenant-b")], body)
    reliability.handled("webhook signature: ce-tenantid added to the default tenant")
