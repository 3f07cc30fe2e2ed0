"""CloudEvents 1.0 envelopes of a message, built with the ``cloudevents`` SDK.

Binary content mode (attributes in protocol headers, the event's data as the body) for
protocols with headers, structured content mode (one JSON object) for the others. Imported only
when the relay runs with ``--envelope cloudevents`` (the ``cloudevents`` extra).

Attributes: ``id`` the event uuid, ``source`` ``/eventhex/<category>`` (percent-encoded path
segment; ``/eventhex/`` without a category), ``type`` the event name, ``subject`` the stream
uuid, ``time`` when the event was created, ``datacontenttype`` ``application/json``, and the
extensions ``partitionkey`` (the Partitioning extension: the stream as ``tenant:category:uuid``),
``position``, ``eventversion`` (the schema version the payload was stored with, which the relay
publishes as stored, never upcast), ``streamversion``, ``streamname``, ``tenantid``,
``correlationid``, ``causationid``, and ``traceparent`` / ``tracestate`` (the Distributed
Tracing extension), each only when the event has it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from cloudevents.core.bindings import http, kafka, rabbitmq
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from eventhex_core_ports.ports.relay import OutboxMessage
from eventhex_outbox_relay.publishers._trace import trace_headers

__all__ = [
    "STRUCTURED_CONTENT_TYPE",
    "cloud_event",
    "http_binary",
    "kafka_binary",
    "nats_binary",
    "rabbitmq_binary",
    "structured",
]

STRUCTURED_CONTENT_TYPE = JSONFormat.CONTENT_TYPE
"""``application/cloudevents+json``."""

_FORMAT = JSONFormat()
_INT32 = range(-(2**31), 2**31)


def _attributes(message: OutboxMessage) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(message.event_uuid),
        "source": "/eventhex/" + quote(message.stream_category, safe=""),
        "type": message.event_name,
        "subject": str(message.stream_uuid),
        "time": message.created_at,
        "datacontenttype": "application/json",
        "partitionkey": message.partition_key,
        "position": str(message.position),  # beyond a CloudEvents Integer on PostgreSQL
        "eventversion": message.event_version,
    }
    if message.version is not None:
        version = message.version
        attributes["streamversion"] = version if version in _INT32 else str(version)
    optional = {
        "streamname": message.stream_name,
        "tenantid": message.tenant_id,
        "correlationid": message.correlation_id,
        "causationid": message.causation_id,
        **trace_headers(message),
    }
    attributes.update({name: value for name, value in optional.items() if value})
    return attributes


def cloud_event(message: OutboxMessage) -> CloudEvent:
    """The message as a CloudEvent whose data is the event's payload."""
    return CloudEvent(_attributes(message), dict(message.data))


def structured(message: OutboxMessage) -> bytes:
    """The JSON event format: attributes and data in one object
    (``application/cloudevents+json``)."""
    return _FORMAT.write(cloud_event(message))


def kafka_binary(message: OutboxMessage) -> tuple[dict[str, bytes], bytes]:
    """Kafka binary mode: ``ce_<attribute>`` headers (UTF-8), ``content-type``, the data as
    the value."""
    record = kafka.to_binary(cloud_event(message), _FORMAT)
    return record.headers, record.value


def http_binary(message: OutboxMessage) -> tuple[dict[str, str], bytes]:
    """HTTP binary mode: ``ce-<attribute>`` headers, percent-encoded where a header needs it
    (space, ``"``, ``%`` and anything outside printable ASCII), ``content-type``, the data."""
    request = http.to_binary(cloud_event(message), _FORMAT)
    return request.headers, request.body


def nats_binary(message: OutboxMessage) -> tuple[dict[str, str], bytes]:
    """NATS binary mode (NATS binding 1.0.3): HTTP's ``ce-`` headers and percent-encoding, with
    ``datacontenttype`` as ``ce-datacontenttype``, since a NATS ``Content-Type`` of
    ``application/cloudevents`` marks structured mode."""
    headers, body = http_binary(message)
    headers["ce-datacontenttype"] = headers.pop("content-type")
    return headers, body


def rabbitmq_binary(message: OutboxMessage) -> tuple[dict[str, str], str, bytes]:
    """RabbitMQ (AMQP 0-9-1) binary mode: ``ce-<attribute>`` message headers, the AMQP
    ``content_type`` property, the data as body.

    Returns:
        The headers, the content type and the body.
    """
    amqp = rabbitmq.to_binary(cloud_event(message), _FORMAT)
    return amqp.headers, amqp.content_type or "application/json", amqp.body
