"""HTTP webhooks on httpx: one POST per message, 2xx means delivered, signed with HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Sequence

import httpx

from eventhex_core_ports.ports.relay import (
    OutboxMessage,
    Publisher,
    PublisherUnavailable,
    PublishOutcome,
)
from eventhex_outbox_relay.publishers._body import encode, failure, wants_cloudevents
from eventhex_outbox_relay.publishers._http_deadline import DeadlineTransport, deadline
from eventhex_outbox_relay.publishers._names import header_value
from eventhex_outbox_relay.publishers._order import delivered_in_order, in_stream_order
from eventhex_outbox_relay.publishers._trace import trace_headers
from eventhex_outbox_relay.publishers._url import redacted

__all__ = [
    "ANSWER_PREFIX_BYTES",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookPublisher",
    "signature",
]

SIGNATURE_HEADER = "X-Eventhex-Signature"
TIMESTAMP_HEADER = "X-Eventhex-Timestamp"
ANSWER_PREFIX_BYTES = 1024
"""At most this much of an answer is read (for the error of a refused message); the rest is
left unread and its connection closed."""

logger = logging.getLogger("eventhex.relay.webhook")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value: ``sha256=`` + hex HMAC of ``timestamp.body``.

    Receivers recompute it with the shared secret, compare in constant time and reject old
    timestamps to stop replays.
    """
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


class WebhookPublisher(Publisher):
    """POSTs each message's JSON body through a pooled, kept-alive ``httpx`` client.

    A 2xx answer means delivered; any other status, a timeout or the request's deadline counts as
    a failed attempt of that message; a refused connection is an outage (no attempt is counted).
    Headers: ``X-Eventhex-Event-Id`` (the event uuid), ``X-Eventhex-Event-Name``,
    ``X-Eventhex-Partition-Key`` (both percent-encoded UTF-8 where they hold anything but
    printable ASCII, or hold ``%``), and with a secret ``X-Eventhex-Timestamp`` and
    ``X-Eventhex-Signature``; ``traceparent`` and ``tracestate`` when the event carries a trace
    context. Only the first :data:`ANSWER_PREFIX_BYTES` of an answer are read.

    With the CloudEvents envelope each request is a CloudEvent in HTTP binary content mode: the
    event's data as the body, the attributes as ``ce-<attribute>`` headers (percent-encoded where
    needed); the signature headers stay, the ``X-Eventhex-Event-*`` headers go.

    Args:
        url: The endpoint, ``http://`` or ``https://`` (certificates verified).
        timeout: Seconds the whole request may take: connecting, sending and the answer.
        secret: Key of the HMAC signature; no signature header when None.
        http2: Offer HTTP/2 to the endpoint (needs the ``h2`` package).
        envelope: ``eventhex`` or ``cloudevents``.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        secret: str | None = None,
        http2: bool = False,
        envelope: str = "eventhex",
    ) -> None:
        if secret == "":
            raise ValueError("the webhook secret is empty: give a key, or none to not sign")
        self._cloudevents = wants_cloudevents(envelope)
        self._url = url
        self._timeout = timeout
        self._secret = secret
        self._http2 = http2
        self._client = self._new_client()

    def _new_client(self) -> httpx.Client:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        transport = DeadlineTransport(verify=True, limits=limits, http2=self._http2)
        return httpx.Client(
            transport=transport, timeout=httpx.Timeout(self._timeout), follow_redirects=False
        )

    def _encoded(self, message: OutboxMessage) -> tuple[bytes, dict[str, str]]:
        """The body and the headers."""
        if self._cloudevents:
            from eventhex_outbox_relay.publishers._cloudevents import http_binary

            attributes, body = http_binary(message)
            headers = {"Content-Type": attributes.pop("content-type"), **attributes}
        else:
            body = encode(message)
            headers = {
                "Content-Type": "application/json",
                "X-Eventhex-Event-Id": str(message.event_uuid),
                "X-Eventhex-Event-Name": header_value(message.event_name),
                "X-Eventhex-Partition-Key": header_value(message.partition_key),
            }
        headers |= trace_headers(message)
        if self._secret is not None:
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = signature(self._secret, timestamp, body)
        return body, headers

    def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST within the deadline; read at most a prefix of the answer."""
        with (
            deadline(self._timeout),
            self._client.stream("POST", self._url, content=body, headers=headers) as response,
        ):
            prefix = b""
            if not response.is_success:
                for chunk in response.iter_raw(ANSWER_PREFIX_BYTES):
                    prefix += chunk
                    if len(prefix) >= ANSWER_PREFIX_BYTES:
                        break
            return response.status_code, prefix[:ANSWER_PREFIX_BYTES]

    def _send(self, message: OutboxMessage) -> PublishOutcome:
        body, headers = self._encoded(message)
        try:
            status, answer = self._post(body, headers)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            # the endpoint closed a kept-alive connection as it was reused: one fresh try
            status, answer = self._post(body, headers)
        if 200 <= status < 300:
            return PublishOutcome(message.entry_id, True)
        text = answer[:200].decode(errors="replace")
        return PublishOutcome(message.entry_id, False, f"webhook answered HTTP {status}: {text}")

    def publish(self, messages: Sequence[OutboxMessage]) -> list[PublishOutcome]:
        """See :meth:`Publisher.publish`."""
        outcomes: list[PublishOutcome] = []
        for message in messages:
            try:
                outcomes.append(self._send(message))
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                delivered = delivered_in_order(messages, _delivered(outcomes))
                reason = f"webhook: cannot connect: {error}"
                raise PublisherUnavailable(reason, delivered) from error
            except httpx.TimeoutException as error:
                self._replace_client()
                outcomes.append(failure(message, "webhook timeout", error))
            except httpx.TransportError as error:
                self._replace_client()
                delivered = delivered_in_order(messages, _delivered(outcomes))
                raise PublisherUnavailable(f"webhook: {error!r}", delivered) from error
            except Exception as error:  # this message only; the connection's state is unknown
                logger.warning(
                    "webhook could not send entry %s to %s (%r); the connection is replaced",
                    message.entry_id,
                    redacted(self._url),
                    error,
                )
                self._replace_client()
                outcomes.append(failure(message, "webhook", error))
        return in_stream_order(messages, outcomes)

    def _replace_client(self) -> None:
        self.close()
        self._client = self._new_client()

    def close(self) -> None:
        """See :meth:`Publisher.close`."""
        self._client.close()


def _delivered(outcomes: list[PublishOutcome]) -> set[int]:
    return {o.entry_id for o in outcomes if o.delivered}
