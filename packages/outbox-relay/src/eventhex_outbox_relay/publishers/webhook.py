"""HTTP webhooks: one POST per message, 2xx means delivered, signed with HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from eventhex_core_ports.ports.relay import (
    OutboxMessage,
    Publisher,
    PublisherUnavailable,
    PublishOutcome,
)
from eventhex_outbox_relay.publishers._body import encode

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WebhookPublisher", "signature"]

SIGNATURE_HEADER = "X-Eventhex-Signature"
TIMESTAMP_HEADER = "X-Eventhex-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value: ``sha256=`` + hex HMAC of ``timestamp.body``.

    Receivers recompute it with the shared secret, compare in constant time and reject old
    timestamps to stop replays.
    """
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


class WebhookPublisher(Publisher):
    """POSTs each message's JSON body over one kept-alive connection.

    A 2xx answer means delivered; any other status or a timeout counts as a failed attempt of
    that message; a refused or broken connection is an outage (no attempt is counted).
    Headers: ``X-Eventhex-Event-Id`` (the event uuid), ``X-Eventhex-Event-Name``,
    ``X-Eventhex-Partition-Key``, and with a secret ``X-Eventhex-Timestamp`` and
    ``X-Eventhex-Signature``.

    Args:
        url: The endpoint, ``http://`` or ``https://``.
        timeout: Seconds to connect and to wait for each answer.
        secret: Key of the HMAC signature; no signature header when None.
    """

    def __init__(self, url: str, *, timeout: float = 10.0, secret: str | None = None) -> None:
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "localhost"
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._timeout = timeout
        self._secret = secret
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._connection = kind(self._host, self._port, timeout=self._timeout)
        return self._connection

    def _headers(self, message: OutboxMessage, body: bytes) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "X-Eventhex-Event-Id": str(message.event_uuid),
            "X-Eventhex-Event-Name": message.event_name,
            "X-Eventhex-Partition-Key": message.partition_key,
        }
        if self._secret is not None:
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = signature(self._secret, timestamp, body)
        return headers

    def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        reused = self._connection is not None
        connection = self._connect()
        try:
            connection.request("POST", self._path, body, headers)
            response = connection.getresponse()
        except (ConnectionError, http.client.RemoteDisconnected):
            if not reused:
                raise
            self.close()  # the server closed the idle kept-alive connection: one fresh try
            connection = self._connect()
            connection.request("POST", self._path, body, headers)
            response = connection.getresponse()
        return response.status, response.read()

    def publish(self, messages: Sequence[OutboxMessage]) -> list[PublishOutcome]:
        """See :meth:`Publisher.publish`."""
        outcomes: list[PublishOutcome] = []
        for message in messages:
            body = encode(message)
            try:
                status, answer = self._post(body, self._headers(message, body))
            except TimeoutError as error:
                self.close()
                outcomes.append(
                    PublishOutcome(message.entry_id, False, f"webhook timeout: {error}")
                )
                continue
            except (OSError, http.client.HTTPException) as error:
                self.close()
                delivered = [o.entry_id for o in outcomes if o.delivered]
                raise PublisherUnavailable(f"webhook: {error!r}", delivered) from error
            if 200 <= status < 300:
                outcomes.append(PublishOutcome(message.entry_id, True))
            else:
                text = answer[:200].decode(errors="replace")
                error_text = f"webhook answered HTTP {status}: {text}"
                outcomes.append(PublishOutcome(message.entry_id, False, error_text))
        return outcomes

    def close(self) -> None:
        """See :meth:`Publisher.close`."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
