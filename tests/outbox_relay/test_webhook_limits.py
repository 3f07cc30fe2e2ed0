"""The webhook publisher against hostile endpoints: a 300 MB answer and one that trickles.

Each endpoint is a real TCP server speaking just enough HTTP/1.1, so that what the relay reads
and how long it waits are its own doing, not a client library's test double.
"""

from __future__ import annotations

import socket
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator

import pytest

from eventhex_core_ports.in_memory.relay_source import InMemoryOutboxSource
from eventhex_outbox_relay import Relay
from eventhex_outbox_relay.publishers.webhook import ANSWER_PREFIX_BYTES, WebhookPublisher
from tests.reliability._report import ReliabilityReport

HUGE = 300 * 1024 * 1024


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += conn.recv(65536)


class HostileEndpoint:
    """Accepts connections and answers each request with ``answer(connection)``.

    Attributes:
        sent: Bytes written to clients so far.
        cut_off: Set once a client closed a connection while the endpoint was still writing.
    """

    def __init__(self, answer: Callable[[HostileEndpoint, socket.socket], None]) -> None:
        self._answer = answer
        self.sent = 0
        self.cut_off = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/hook"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                _read_request(conn)
                self._answer(self, conn)
            except OSError:
                self.cut_off.set()

    def send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        self.sent += len(data)

    def close(self) -> None:
        self._listener.close()


def huge_error(endpoint: HostileEndpoint, conn: socket.socket) -> None:
    endpoint.send(conn, f"HTTP/1.1 500 Oops\r\nContent-Length: {HUGE}\r\n\r\n".encode())
    chunk = b"E" * (1024 * 1024)
    for _ in range(HUGE // len(chunk)):
        endpoint.send(conn, chunk)


def trickle(endpoint: HostileEndpoint, conn: socket.socket) -> None:
    for byte in b"HTTP/1.1 200 OK\r\n" * 1000:  # never reaches the end of the headers in time
        endpoint.send(conn, bytes([byte]))
        time.sleep(0.05)


@pytest.fixture
def endpoint(request: pytest.FixtureRequest) -> Iterator[HostileEndpoint]:
    server = HostileEndpoint(request.param)
    yield server
    server.close()


@pytest.mark.parametrize("endpoint", [huge_error], indirect=True)
def test_a_300_mb_answer_is_read_only_to_a_small_prefix(
    endpoint: HostileEndpoint, quick_relay: Callable[..., Relay], reliability: ReliabilityReport
) -> None:
    reliability.tried("relay resource: 300 MB webhook answer")
    source = InMemoryOutboxSource()
    sent = source.enqueue(max_attempts=5)
    relay = quick_relay(source, WebhookPublisher(endpoint.url, timeout=30))
    tracemalloc.start()
    try:
        relay.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (relay.report.retried, relay.report.outages) == (1, 0)
    entry = source.peek(sent.entry_id)
    assert entry is not None
    assert entry.last_error.startswith("webhook answered HTTP 500: EEE")
    assert peak < 8 * 1024 * 1024  # the relay held a prefix, not the answer
    assert endpoint.cut_off.wait(30)  # it closed the connection instead of draining it
    assert endpoint.sent < HUGE // 4
    assert ANSWER_PREFIX_BYTES <= 4096
    reliability.handled("relay resource: 300 MB webhook answer")


@pytest.mark.parametrize("endpoint", [trickle], indirect=True)
def test_a_trickling_endpoint_meets_the_request_deadline(
    endpoint: HostileEndpoint, quick_relay: Callable[..., Relay], reliability: ReliabilityReport
) -> None:
    """Each byte arrives well within the per-read timeout, so only a deadline for the whole
    request ends it: the message fails alone (no outage) and the relay goes on."""
    reliability.tried("relay resource: trickling webhook endpoint")
    source = InMemoryOutboxSource()
    sent = source.enqueue(max_attempts=5)
    relay = quick_relay(source, WebhookPublisher(endpoint.url, timeout=1))
    relay.step()
    assert (relay.report.retried, relay.report.outages) == (1, 0)
    entry = source.peek(sent.entry_id)
    assert entry is not None
    assert "webhook timeout" in entry.last_error
    assert endpoint.cut_off.wait(30)
    reliability.handled("relay resource: trickling webhook endpoint")


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret is empty"):
        WebhookPublisher("http://127.0.0.1:1/hook", secret="")
