"""W3C trace context of an event, read from what OpenTelemetry stored in its context.

python-event-sourcery's ``OpenTelemetryContextEnricher`` (``event_sourcery_otel``) keeps the
carrier that OpenTelemetry's propagator filled when the event was appended, as the context
component ``opentelemetry``: ``{"components": {"opentelemetry": {"values": {"traceparent": …,
"tracestate": …}}}}``. With the default propagator (W3C Trace Context) that carrier holds a
``traceparent``; the relay passes it on, so a consumer continues the trace of the request that
appended the event. The relay needs no OpenTelemetry package for this: it reads a dictionary.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from eventhex_core_ports.ports.relay import OutboxMessage

__all__ = ["trace_headers"]

COMPONENT = "opentelemetry"
"""The context component name ``event_sourcery_otel`` stores its carrier under."""

_TRACEPARENT = re.compile(
    r"(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}"
)
_TRACESTATE = re.compile(r"[\x20-\x7e]{1,512}")


def _carrier(context: Mapping[str, Any]) -> Mapping[str, Any]:
    components = context.get("components")
    component = components.get(COMPONENT) if isinstance(components, Mapping) else None
    values = component.get("values") if isinstance(component, Mapping) else None
    return values if isinstance(values, Mapping) else {}


def trace_headers(message: OutboxMessage) -> dict[str, str]:
    """``traceparent`` (and ``tracestate`` with it) from the event's context, or nothing.

    A value that is not a valid W3C ``traceparent`` (four fields of lower-case hex, version not
    ``ff``, trace and span ids not all zero) is left out, as is a ``tracestate`` without a valid
    ``traceparent`` or with characters a header cannot carry: a stored context is data from the
    past and no reason to send a broken header.
    """
    carrier = _carrier(message.context)
    parent = carrier.get("traceparent")
    if not isinstance(parent, str) or not _TRACEPARENT.fullmatch(parent):
        return {}
    headers = {"traceparent": parent}
    state = carrier.get("tracestate")
    if isinstance(state, str) and _TRACESTATE.fullmatch(state):
        headers["tracestate"] = state
    return headers
