"""HTTP webhooks on httpx: one POST per message, 2xx means delivered, signed with HMAC-SHA256.

A stream's messages go one after the other, each after the answer to the one before; different
streams of a batch go at once, one connection per lane (``concurrency`` lanes).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

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
from eventhex_outbox_relay.publishers._order import HELD_BACK
from eventhex_outbox_relay.publishers._signature import (
    SIGNATURE_HEADER,
    SIGNED_HEADERS_HEADER,
    TIMESTAMP_HEADER,
    signature,
    signed_headers,
)
from eventhex_outbox_relay.publishers._trace import trace_headers
from eventhex_outbox_relay.publishers._url import redacted

__all__ = [
    "ANSWER_PREFIX_BYTES",
    "SIGNATURE_HEADER",
    "SIGNED_HEADERS_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookPublisher",
    "signature",
]

ANSWER_PREFIX_BYTES = 1024
"""At most this much of an answer is read (for the error of a refused message); the rest is
left unread and its connection closed."""

logger = logging.getLogger("eventhex.relay.webhook")


class WebhookPublisher(Publisher):
    """POSTs each message's JSON body through a pooled, kept-alive ``httpx`` client.

    A 2xx answer means delivered; any other status, a timeout or the request's deadline counts as
    a failed attempt of that message; a refused connection is an outage (no attempt is counted).
    Headers: ``X-Eventhex-Event-Id`` (the event uuid), ``X-Eventhex-Event-Name``,
    ``X-Eventhex-Event-Version`` (the schema version the payload was stored with),
    ``X-Eventhex-Partition-Key`` (name and key percent-encoded UTF-8 where they hold anything but
    printable ASCII, or hold ``%``); ``traceparent`` and ``tracestate`` when the event carries a
    trace context; with a secret ``X-Eventhex-Timestamp``, ``X-Eventhex-Signed-Headers`` and
    ``X-Eventhex-Signature``, an HMAC over the timestamp, every other header and the body
    (scheme ``v2``, see :mod:`~eventhex_outbox_relay.publishers._signature`). Only the first
    :data:`ANSWER_PREFIX_BYTES` of an answer are read.

    With the CloudEvents envelope each request is a CloudEvent in HTTP binary content mode: the
    event's data as the body, the attributes as ``ce-<attribute>`` headers (percent-encoded where
    needed), all of them signed; the ``X-Eventhex-Event-*`` headers go.

    Args:
        url: The endpoint, ``http://`` or ``https://`` (certificates verified).
        timeout: Seconds the whole request may take: connecting, sending and the answer.
        secret: Key of the HMAC signature; no signature header when None.
        http2: Offer HTTP/2 to the endpoint (needs the ``h2`` package).
        envelope: ``eventhex`` or ``cloudevents``.
        concurrency: How many streams of a batch are sent at once, each on its own
            connection; a stream's own messages always go one at a time, in order.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        secret: str | None = None,
        http2: bool = False,
        envelope: str = "eventhex",
        concurrency: int = 8,
    ) -> None:
        if secret == "":
            raise ValueError("the webhook secret is empty: give a key, or none to not sign")
        if concurrency < 1:
            raise ValueError(f"the webhook concurrency is {concurrency}: give 1 or more")
        self._cloudevents = wants_cloudevents(envelope)
        self._url = url
        self._timeout = timeout
        self._secret = secret
        self._http2 = http2
        self._lanes = [_Lane(self._new_client) for _ in range(concurrency)]
        self._executor: ThreadPoolExecutor | None = None

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
                "X-Eventhex-Event-Version": str(message.event_version),
                "X-Eventhex-Partition-Key": header_value(message.partition_key),
            }
        headers |= trace_headers(message)
        if self._secret is not None:
            headers |= signed_headers(self._secret, str(int(time.time())), headers, body)
        return body, headers

    def _post(self, lane: _Lane, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST within the deadline; read at most a prefix of the answer.

        An answer read to its end (most are empty) leaves the connection open for the next
        message; a longer one is cut, and its connection closed.
        """
        with (
            deadline(self._timeout),
            lane.client.stream("POST", self._url, content=body, headers=headers) as response,
        ):
            prefix = b""
            for chunk in response.iter_raw(ANSWER_PREFIX_BYTES):
                prefix += chunk
                if len(prefix) >= ANSWER_PREFIX_BYTES:
                    break
            return response.status_code, prefix[:ANSWER_PREFIX_BYTES]

    def _send(self, lane: _Lane, message: OutboxMessage) -> PublishOutcome:
        body, headers = self._encoded(message)
        try:
            status, answer = self._post(lane, body, headers)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            # the endpoint closed a kept-alive connection as it was reused: one fresh try
            status, answer = self._post(lane, body, headers)
        if 200 <= status < 300:
            return PublishOutcome(message.entry_id, True)
        text = answer[:200].decode(errors="replace")
        return PublishOutcome(message.entry_id, False, f"webhook answered HTTP {status}: {text}")

    def publish(self, messages: Sequence[OutboxMessage]) -> list[PublishOutcome]:
        """See :meth:`Publisher.publish`."""
        runs: dict[str, list[OutboxMessage]] = {}
        for message in messages:
            runs.setdefault(message.partition_key, []).append(message)
        work: queue.SimpleQueue[list[OutboxMessage]] = queue.SimpleQueue()
        for run in runs.values():
            work.put(run)
        outcomes: dict[int, PublishOutcome] = {}
        outage = _Outage()
        lanes = self._lanes[: len(runs)]
        if len(lanes) == 1:  # one stream: no thread to hand it to
            self._drain(lanes[0], work, outcomes, outage)
        else:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(len(self._lanes), "eventhex-webhook")
            sends = [
                self._executor.submit(self._drain, lane, work, outcomes, outage) for lane in lanes
            ]
            for send in sends:
                send.result()
        if outage.error is not None:
            delivered = [i for i, outcome in outcomes.items() if outcome.delivered]
            raise PublisherUnavailable(outage.reason, delivered) from outage.error
        return [outcomes[m.entry_id] for m in messages]

    def _drain(
        self,
        lane: _Lane,
        work: queue.SimpleQueue[list[OutboxMessage]],
        outcomes: dict[int, PublishOutcome],
        outage: _Outage,
    ) -> None:
        """Send runs from ``work`` on ``lane`` until none is left or the endpoint is away; a
        run stops at its first failed message, the rest of it held back."""
        while not outage.is_set():
            try:
                run = work.get_nowait()
            except queue.Empty:
                return
            for index, message in enumerate(run):
                outcome = self._attempt(lane, message, outage)
                if outcome is None:
                    return
                outcomes[message.entry_id] = outcome
                if not outcome.delivered:
                    for later in run[index + 1 :]:
                        outcomes[later.entry_id] = PublishOutcome(
                            later.entry_id, False, HELD_BACK, attempted=False
                        )
                    break

    def _attempt(
        self, lane: _Lane, message: OutboxMessage, outage: _Outage
    ) -> PublishOutcome | None:
        """The outcome of sending ``message``; None when the endpoint is away (``outage``)."""
        if outage.is_set():
            return None
        try:
            return self._send(lane, message)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            outage.record(f"webhook: cannot connect: {error}", error)
        except httpx.TimeoutException as error:
            lane.replace()
            return failure(message, "webhook timeout", error)
        except httpx.TransportError as error:
            lane.replace()
            outage.record(f"webhook: {error!r}", error)
        except Exception as error:  # this message only; the connection's state is unknown
            logger.warning(
                "webhook could not send entry %s to %s (%r); the connection is replaced",
                message.entry_id,
                redacted(self._url),
                error,
            )
            lane.replace()
            return failure(message, "webhook", error)
        return None

    def close(self) -> None:
        """See :meth:`Publisher.close`."""
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None
        for lane in self._lanes:
            lane.client.close()


class _Lane:
    """One connection; one stream at a time goes over it."""

    def __init__(self, new_client: Callable[[], httpx.Client]) -> None:
        self._new_client = new_client
        self.client = new_client()

    def replace(self) -> None:
        """A fresh connection for the next message (this one's state is unknown)."""
        self.client.close()
        self.client = self._new_client()


class _Outage(threading.Event):
    """Set once the endpoint cannot be reached: the lanes stop sending."""

    reason = ""
    error: BaseException | None = None

    def record(self, reason: str, error: BaseException) -> None:
        if self.error is None:
            self.reason, self.error = reason, error
        self.set()
