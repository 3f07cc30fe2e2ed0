"""NATS JetStream: a batch published without waiting, in order, its acks awaited in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import nats
import nats.aio.client
import nats.errors
import nats.js.errors

from eventhex_core_ports.ports.relay import (
    OutboxMessage,
    Publisher,
    PublisherUnavailable,
    PublishOutcome,
)
from eventhex_outbox_relay.publishers._body import encode, wants_cloudevents
from eventhex_outbox_relay.publishers._names import header_value, subject_token
from eventhex_outbox_relay.publishers._order import HELD_BACK
from eventhex_outbox_relay.publishers._trace import trace_headers
from eventhex_outbox_relay.publishers._url import nats_options

__all__ = ["NatsJetStreamPublisher"]

logger = logging.getLogger("eventhex.relay.nats")

_CONNECTION_ERRORS = (
    nats.errors.NoServersError,
    nats.errors.SecureConnRequiredError,
    nats.errors.ConnectionClosedError,
    nats.errors.StaleConnectionError,
    nats.errors.TimeoutError,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.TooManyStalledMsgsError,
    asyncio.TimeoutError,
    OSError,
)


class _Unsendable(Exception):
    """A message that could not be encoded; nothing of it reached the connection."""


_MESSAGE_ERRORS = (
    _Unsendable,
    nats.js.errors.APIError,
    nats.errors.MaxPayloadError,
    nats.errors.BadSubjectError,
    nats.errors.BadHeaderError,
)
"""Errors about one message that leave the connection as it was."""

_HELD_BACK = object()
"""A message not sent because an earlier one of its stream in the batch could not be."""

_KEEP_ALIVE_TURN = 0.005
"""Seconds the event loop runs in :meth:`NatsJetStreamPublisher.keep_alive`."""


class _TlsOnlyClient(nats.aio.client.Client):
    """A client that refuses a server which does not ask for TLS on a ``tls://`` URL.

    nats-py upgrades to TLS only when the server's INFO asks for it, so a man in the middle
    could strip TLS by answering with an INFO that does not; the public API has no hook between
    INFO and the CONNECT that carries credentials, so this one checks there.
    """

    async def _process_info(self, info: dict[str, Any], initial_connection: bool = False) -> None:
        if initial_connection and not info.get("tls_required"):
            raise nats.errors.SecureConnRequiredError()
        await super()._process_info(info, initial_connection)


class NatsJetStreamPublisher(Publisher):
    """Publishes to subject ``PREFIX.<category>`` of a JetStream stream, created if missing.

    The ``Nats-Msg-Id`` header is the event uuid, so JetStream's duplicate window drops a message
    re-sent after a relay crash. The partition key travels in the ``Eventhex-Partition-Key``
    header and the event name in ``Eventhex-Event-Name``, both percent-encoded (see
    :func:`~eventhex_outbox_relay.publishers._names.header_value`); ``traceparent`` and
    ``tracestate`` carry the event's trace context when it has one.

    With the CloudEvents envelope the body is the event's data and the attributes travel as
    percent-encoded ``ce-<attribute>`` headers (binary content mode of the NATS binding, which
    maps ``datacontenttype`` to ``ce-datacontenttype``); ``Nats-Msg-Id`` stays.

    Args:
        url: ``nats://host:port?stream=NAME&subject=PREFIX`` (defaults ``eventhex`` for both), or
            ``tls://…`` for TLS with the server's certificate verified against the system's
            certificate authorities or ``ca_file=PATH``; a server that does not ask for TLS is
            refused.
        timeout: Seconds to connect and to wait for each acknowledgement.
        envelope: ``eventhex`` or ``cloudevents``.
    """

    def __init__(self, url: str, *, timeout: float = 10.0, envelope: str = "eventhex") -> None:
        clean, options = nats_options(url)
        self._cloudevents = wants_cloudevents(envelope)
        parts = urlsplit(clean)
        self.server = urlunsplit(parts._replace(query="", path=""))
        self.stream, self.subject = options.stream, options.subject
        self._tls = ssl.create_default_context(cafile=options.ca_file) if options.tls else None
        self._timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._client: Any = None
        self._js: Any = None

    async def _connect(self) -> Any:
        client: Any = _TlsOnlyClient() if self._tls is not None else nats.aio.client.Client()
        await client.connect(
            servers=[self.server],
            connect_timeout=self._timeout,
            allow_reconnect=False,
            max_reconnect_attempts=1,
            reconnect_time_wait=0.1,
            error_cb=self._on_error,
            tls=self._tls,
        )
        return client

    async def _jetstream(self) -> Any:
        if self._client is None or self._client.is_closed:
            self._client = await self._connect()
            js = self._client.jetstream(timeout=self._timeout)
            try:
                await js.stream_info(self.stream)
            except nats.js.errors.NotFoundError:
                await js.add_stream(name=self.stream, subjects=[f"{self.subject}.>"])
            self._js = js  # one context per connection: it keeps the inbox of async acks
        return self._js

    @staticmethod
    async def _on_error(error: Exception) -> None:
        logger.warning("nats client error: %r", error)

    def subject_for(self, message: OutboxMessage) -> str:
        """``PREFIX.<category token>``: see :func:`~eventhex_outbox_relay.publishers._names.\
subject_token` (``_`` for no category)."""
        return f"{self.subject}.{subject_token(message.stream_category)}"

    async def _publish(self, messages: Sequence[OutboxMessage]) -> list[Any]:
        """Per message its acknowledgement, its error, or ``_HELD_BACK``.

        The messages go out in order without waiting (``publish_async``), and the acks are
        awaited in the same order within one timeout. Nothing more of a stream is sent once one
        of its messages could not be; a stream's message refused at its ack leaves the later ones
        sent already (the relay acknowledges none of them, see ``_order``).
        """
        js = await self._jetstream()
        results: list[Any] = []
        stopped: set[str] = set()
        for message in messages:
            if message.partition_key in stopped:
                results.append(_HELD_BACK)
                continue
            try:
                results.append(await self._send(js, message))
            except _CONNECTION_ERRORS as error:  # nothing more of the batch goes
                results += [error] * (len(messages) - len(results))
                break
            except Exception as error:  # this message and the rest of its stream
                stopped.add(message.partition_key)
                results.append(error)
        deadline = asyncio.get_running_loop().time() + self._timeout
        for index, pending in enumerate(results):
            if isinstance(pending, asyncio.Future):
                left = max(0.0, deadline - asyncio.get_running_loop().time())
                try:
                    results[index] = await asyncio.wait_for(pending, left)
                except Exception as error:
                    results[index] = error
        return results

    def _encoded(self, message: OutboxMessage) -> tuple[bytes, dict[str, str]]:
        """The body and the headers."""
        headers = {"Nats-Msg-Id": str(message.event_uuid)}
        if self._cloudevents:
            from eventhex_outbox_relay.publishers._cloudevents import nats_binary

            attributes, body = nats_binary(message)
            headers |= attributes
        else:
            headers["Eventhex-Event-Name"] = header_value(message.event_name)
            headers["Eventhex-Event-Version"] = str(message.event_version)
            headers["Eventhex-Partition-Key"] = header_value(message.partition_key)
            body = encode(message)
        return body, headers | trace_headers(message)

    async def _send(self, js: Any, message: OutboxMessage) -> Any:
        try:
            body, headers = self._encoded(message)
        except Exception as error:
            raise _Unsendable(f"{type(error).__name__}: {error}") from error
        subject = self.subject_for(message)
        return await js.publish_async(
            subject, body, wait_stall=self._timeout, stream=self.stream, headers=headers
        )

    def keep_alive(self) -> None:
        """Let the client answer the server's pings while the relay is idle.

        The client's reader runs on this publisher's own event loop, which otherwise turns only
        during a publish; unanswered, the server's pings make it close the connection as stale,
        and the next publish would wait out its acknowledgement timeout before failing. A short
        turn of the loop answers them (and notices a connection the server closed anyway).
        """
        if self._client is None or self._client.is_closed:
            return
        try:
            self._loop.run_until_complete(asyncio.sleep(_KEEP_ALIVE_TURN))
        except Exception:  # a broken connection: the next publish opens a new one
            logger.info("nats connection failed while idle; it is reopened for the next batch")
            self._drop()

    def publish(self, messages: Sequence[OutboxMessage]) -> list[PublishOutcome]:
        """See :meth:`Publisher.publish`."""
        try:
            results = self._loop.run_until_complete(self._publish(messages))
        except _CONNECTION_ERRORS as error:
            self._drop()
            raise PublisherUnavailable(f"nats: {error!r}") from error
        lost = [r for r in results if isinstance(r, _CONNECTION_ERRORS)]
        if lost:
            self._drop()
            delivered = [
                m.entry_id
                for m, r in zip(messages, results, strict=True)
                if not isinstance(r, BaseException) and r is not _HELD_BACK
            ]
            raise PublisherUnavailable(f"nats: {lost[0]!r}", delivered)
        if any(isinstance(r, Exception) and not isinstance(r, _MESSAGE_ERRORS) for r in results):
            logger.warning("nats publish failed unexpectedly; the connection is replaced")
            self._drop()  # its state is unknown after an error nobody expected
        return [
            PublishOutcome(m.entry_id, False, HELD_BACK, attempted=False)
            if r is _HELD_BACK
            else PublishOutcome(m.entry_id, False, f"nats: {r!r}")
            if isinstance(r, BaseException)
            else PublishOutcome(m.entry_id, True)
            for m, r in zip(messages, results, strict=True)
        ]

    def _drop(self) -> None:
        client, self._client, self._js = self._client, None, None
        if client is not None and not client.is_closed:
            with contextlib.suppress(Exception):  # the connection is gone either way
                self._loop.run_until_complete(client.close())
        self._loop.run_until_complete(_cancel_leftovers())

    def close(self) -> None:
        """See :meth:`Publisher.close`."""
        self._drop()
        self._loop.close()


async def _cancel_leftovers() -> None:
    """Cancel the reader, flusher and pinger tasks a dead client leaves behind."""
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)
