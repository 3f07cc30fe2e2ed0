"""The operations port: loopback by default, slow clients cut off, errors kept private,
statistics read at most once per interval."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from eventhex_core_ports.in_memory.relay_source import InMemoryOutboxSource
from eventhex_core_ports.ports.relay import OutboxStats
from eventhex_outbox_relay.metrics import PrometheusMetrics, RelayMetrics
from eventhex_outbox_relay.operations import OperationsServer
from eventhex_outbox_relay.settings import load_settings
from tests.reliability._report import ReliabilityReport
from tests.waiting import wait_for


class CountingSource(InMemoryOutboxSource):
    """Counts ``stats()`` calls; raises ``failure`` from them when set."""

    def __init__(self) -> None:
        super().__init__()
        self.stats_calls = 0
        self.failure: Exception | None = None

    def stats(self) -> OutboxStats:
        self.stats_calls += 1
        if self.failure is not None:
            raise self.failure
        return super().stats()


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def serve() -> Iterator[list[OperationsServer]]:
    servers: list[OperationsServer] = []
    yield servers
    for server in servers:
        server.stop()


def start(serve: list[OperationsServer], metrics: RelayMetrics, **options: Any) -> int:
    server = OperationsServer("127.0.0.1", 0, metrics, time.monotonic, 60.0, **options)
    server.start()
    serve.append(server)
    return server.port


def test_the_port_binds_loopback_unless_told_otherwise() -> None:
    assert load_settings({"source": "x"}).http_host == "127.0.0.1"
    assert load_settings({"source": "x", "http_host": "0.0.0.0"}).http_host == "0.0.0.0"


def test_metrics_keep_their_names_and_read_the_outbox_once_per_interval(
    serve: list[OperationsServer],
) -> None:
    source = CountingSource()
    source.enqueue()
    port = start(serve, PrometheusMetrics(source, stats_ttl=3600))
    status, first = get(port, "/metrics")
    assert status == 200
    for name in (
        "eventhex_relay_published_total",
        "eventhex_relay_failed_total",
        "eventhex_relay_dead_lettered_total",
        "eventhex_outbox_pending 1.0",
        "eventhex_outbox_in_flight",
        "eventhex_outbox_dead",
        "eventhex_outbox_lag_seconds",
    ):
        assert name.encode() in first
    for _ in range(5):
        assert get(port, "/metrics")[0] == 200
    assert source.stats_calls == 1

    fresh = CountingSource()
    port = start(serve, PrometheusMetrics(fresh, stats_ttl=0))
    for _ in range(3):
        get(port, "/metrics")
    assert fresh.stats_calls == 3


def test_a_failing_scrape_answers_a_generic_body(
    serve: list[OperationsServer], reliability: ReliabilityReport
) -> None:
    reliability.tried("relay operations: database error in /metrics")
    source = CountingSource()
    source.failure = RuntimeError("could not connect to db.internal as admin:hunter2")
    port = start(serve, PrometheusMetrics(source, stats_ttl=0))
    status, body = get(port, "/metrics")
    assert (status, body) == (503, b"metrics unavailable\n")
    assert get(port, "/healthz") == (200, b"ok\n")  # health does not depend on the database
    reliability.handled("relay operations: database error in /metrics")


def _closed_by_server(sock: socket.socket) -> bool:
    try:
        sock.send(b"X")
        return sock.recv(1, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_slow_clients_are_cut_off_and_never_hold_more_than_a_few_threads(
    serve: list[OperationsServer], reliability: ReliabilityReport, capfd: pytest.CaptureFixture[str]
) -> None:
    """200 half-sent requests once held 202 threads for as long as they liked. The test sends
    each open connection a byte every few milliseconds, well within the 0.5 s read timeout, so
    only the one-second deadline per connection can end them; ending them prints nothing."""
    reliability.tried("relay operations: slowloris connections")
    metrics = PrometheusMetrics(InMemoryOutboxSource())
    port = start(serve, metrics, request_timeout=30.0, request_deadline=1.0, max_connections=4)
    threads_before = threading.active_count()
    slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
    try:
        for sock in slow:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        assert threading.active_count() <= threads_before + 4
        open_ = list(slow)

        def all_cut() -> bool:
            open_[:] = [s for s in open_ if not _closed_by_server(s)]
            return not open_

        wait_for(all_cut, seconds=60)  # trickling a byte each turn does not keep them open
        assert get(port, "/healthz") == (200, b"ok\n")
    finally:
        for sock in slow:
            sock.close()
    assert "Traceback" not in capfd.readouterr().err  # an attacker cannot flood the log
    reliability.handled("relay operations: slowloris connections")


def test_stats_cache_serves_a_reading_then_refreshes() -> None:
    source = CountingSource()
    metrics = PrometheusMetrics(source, stats_ttl=3600)
    metrics.exposition()
    source.enqueue()
    assert b"eventhex_outbox_pending 0.0" in metrics.exposition()  # the cached reading
    assert source.stats_calls == 1


def test_metrics_speak_openmetrics_when_asked(serve: list[OperationsServer]) -> None:
    """prometheus-client's exposition negotiates the format, which a hand-written one did not."""
    port = start(serve, PrometheusMetrics(InMemoryOutboxSource()))
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics",
        headers={"Accept": "application/openmetrics-text; version=1.0.0"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        body = answer.read()
        assert answer.headers["Content-Type"].startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")
    assert b"eventhex_relay_published_total 0.0" in body
