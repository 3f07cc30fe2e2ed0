"""NATS over TLS (``tls://``): certificates verified, and no falling back to plain text."""

from __future__ import annotations

import asyncio
import json
import ssl
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import nats
import nats.js.errors
import pytest

from eventhex_core_ports.in_memory.relay_source import InMemoryOutboxSource
from eventhex_outbox_relay import Relay
from eventhex_outbox_relay.publishers import publisher_from_url
from eventhex_outbox_relay.settings import SettingsError, load_settings
from tests.outbox_relay._servers import NatsServer, make_certificates
from tests.reliability._report import ReliabilityReport

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def tls_nats() -> Iterator[tuple[NatsServer, Path]]:
    """A NATS server that requires TLS, and the CA file that signed its certificate."""
    with tempfile.TemporaryDirectory(prefix="eventhex-tls-") as directory:
        ca, cert, key = make_certificates(Path(directory))
        server = NatsServer(tls=(cert, key))
        try:
            server.start()
            yield server, ca
        finally:
            server.close()


def _tls_url(server: NatsServer) -> str:
    return f"tls://127.0.0.1:{server.port}"


def _stored(url: str, stream: str, context: ssl.SSLContext | None) -> list[dict[str, Any]]:
    async def fetch() -> list[dict[str, Any]]:
        client = await nats.connect(url, tls=context)
        try:
            js = client.jetstream()
            try:
                info = await js.stream_info(stream)
            except nats.js.errors.NotFoundError:
                return []
            messages = [await js.get_msg(stream, n) for n in range(1, info.state.last_seq + 1)]
            return [json.loads(m.data or b"") for m in messages]
        finally:
            await client.close()

    return asyncio.run(fetch())


def test_tls_url_verifies_the_server_certificate_and_delivers(
    tls_nats: tuple[NatsServer, Path], quick_relay: Callable[..., Relay]
) -> None:
    server, ca = tls_nats
    stream = f"T{uuid4().hex[:6]}"
    source = InMemoryOutboxSource()
    sent = [source.enqueue() for _ in range(3)]
    url = f"{_tls_url(server)}?stream={stream}&subject={stream.lower()}&ca_file={ca}"
    report = quick_relay(source, publisher_from_url(url)).run(drain=True)
    assert report.published == 3
    stored = _stored(_tls_url(server), stream, ssl.create_default_context(cafile=str(ca)))
    assert [p["event_uuid"] for p in stored] == [str(m.event_uuid) for m in sent]


def test_an_untrusted_certificate_is_an_outage_that_costs_no_attempt(
    tls_nats: tuple[NatsServer, Path],
    quick_relay: Callable[..., Relay],
    reliability: ReliabilityReport,
) -> None:
    reliability.tried("relay TLS: untrusted NATS certificate")
    server, ca = tls_nats
    stream = f"U{uuid4().hex[:6]}"
    source = InMemoryOutboxSource()
    source.enqueue(max_attempts=1)
    relay = quick_relay(source, publisher_from_url(f"{_tls_url(server)}?stream={stream}"))
    relay.step()
    assert (relay.report.published, relay.report.outages, relay.report.dead_lettered) == (0, 1, 0)
    assert source.stats().pending == 1
    assert _stored(_tls_url(server), stream, ssl.create_default_context(cafile=str(ca))) == []
    reliability.handled("relay TLS: untrusted NATS certificate")


def test_a_tls_url_refuses_a_server_that_does_not_ask_for_tls(
    nats_server: NatsServer, quick_relay: Callable[..., Relay], reliability: ReliabilityReport
) -> None:
    """What a man in the middle stripping TLS looks like: an INFO without ``tls_required``.
    The relay must not go on in plain text (nats-py alone would)."""
    reliability.tried("relay TLS: NATS server without TLS behind a tls:// URL")
    stream = f"S{uuid4().hex[:6]}"
    source = InMemoryOutboxSource()
    source.enqueue(max_attempts=1)
    url = f"tls://127.0.0.1:{nats_server.port}?stream={stream}"
    relay = quick_relay(source, publisher_from_url(url))
    relay.step()
    assert (relay.report.published, relay.report.outages) == (0, 1)
    assert _stored(nats_server.url, stream, None) == []  # not even the stream was created
    reliability.handled("relay TLS: NATS server without TLS behind a tls:// URL")


def test_ca_file_belongs_to_tls_urls() -> None:
    with pytest.raises(SettingsError, match="ca_file applies to tls:// URLs only"):
        load_settings({"source": "x", "publisher": "nats://127.0.0.1:4222?ca_file=/x.pem"})
    settings = load_settings({"source": "x", "publisher": "tls://n:4222?ca_file=/x.pem"})
    assert settings.publisher_url.startswith("tls://")
