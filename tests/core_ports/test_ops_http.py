"""The operations HTTP server: bounded threads, timeouts, idle connections that cannot keep a
probe out, and readings cached per interval."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from eventhex_core_ports._internal.cached_reading import CachedReading
from eventhex_core_ports._internal.ops_http import OpsHttpServer, Request, Response
from tests._ops_http_flood import get, idle_connections, server_threads
from tests.reliability._report import report

PREFIX = "ops-http-test"


@pytest.fixture
def servers() -> Iterator[list[OpsHttpServer]]:
    started: list[OpsHttpServer] = []
    yield started
    for server in started:
        server.stop()


def _serve(servers: list[OpsHttpServer], routes: dict[str, object], **options: object) -> int:
    server = OpsHttpServer("127.0.0.1", 0, routes, name=PREFIX, **options)  # type: ignore[arg-type]
    server.start()
    servers.append(server)
    return server.port


def _ok(request: Request) -> Response:
    return Response(200, b"ok\n")


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    return answer


def test_routes_methods_and_bad_requests(servers: list[OpsHttpServer]) -> None:
    def echo(request: Request) -> Response:
        return Response(200, request.headers.get("accept", "-").encode(), "text/x-echo")

    port = _serve(servers, {"/healthz": _ok, "/echo": echo})
    assert get(port, "/healthz") == (200, b"ok\n")
    assert get(port, "/healthz?verbose=1") == (200, b"ok\n")
    assert get(port, "/echo", accept="application/x") == (200, b"application/x")
    assert get(port, "/nope") == (404, b"not found\n")
    head = _raw(port, b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert head.endswith(b"\r\n\r\n")
    assert b"Content-Length: 3\r\n" in head
    assert _raw(port, b"POST /healthz HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 405 ")
    assert _raw(port, b"nonsense\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert _raw(port, b"GET /healthz HTTP/1.1\r\nX: " + b"a" * 9000).startswith(b"HTTP/1.1 431 ")


def test_a_failing_handler_answers_a_generic_503(servers: list[OpsHttpServer]) -> None:
    def broken(request: Request) -> Response:
        raise RuntimeError("password=hunter2")

    port = _serve(servers, {"/metrics": broken})
    assert get(port, "/metrics") == (503, b"unavailable\n")


def test_300_idle_connections_neither_keep_a_probe_out_nor_add_threads(
    servers: list[OpsHttpServer],
) -> None:
    report.tried("ops http: 300 idle connections")
    port = _serve(servers, {"/healthz": _ok}, max_connections=32, inline=frozenset({"/healthz"}))
    with idle_connections(port, 300):
        assert server_threads(PREFIX) <= 3  # the selector thread and at most two workers
        answers = [get(port, "/healthz") for _ in range(30)]
        assert answers == [(200, b"ok\n")] * 30
        assert server_threads(PREFIX) <= 3
    report.handled("ops http: 300 idle connections")


def test_idle_connections_are_closed_after_the_read_timeout(servers: list[OpsHttpServer]) -> None:
    port = _serve(servers, {"/healthz": _ok}, read_timeout=0.3)
    with idle_connections(port, 6) as idle:
        for sock in idle:
            sock.settimeout(10)
            assert sock.recv(1) == b""  # closed by the server, not by the test's timeout


def test_inline_health_answers_while_every_worker_waits_and_requests_flood(
    servers: list[OpsHttpServer],
) -> None:
    """Both workers stuck on a slow handler and every connection slot holding a request:
    the probe still gets in (the oldest connection makes room) and is answered inline."""
    release = threading.Event()

    def stuck(request: Request) -> Response:
        release.wait(30)
        return Response(200, b"late\n")

    report.tried("ops http: request flood with stuck workers")
    routes = {"/healthz": _ok, "/metrics": stuck}
    port = _serve(servers, routes, inline=frozenset({"/healthz"}), max_connections=8)
    flood = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(40)]
    try:
        for sock in flood:
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert [get(port, "/healthz") for _ in range(5)] == [(200, b"ok\n")] * 5
        assert server_threads(PREFIX) <= 3
    finally:
        release.set()
        for sock in flood:
            sock.close()
    report.handled("ops http: request flood with stuck workers")


def test_a_reading_is_taken_once_per_interval_and_failures_are_kept() -> None:
    calls: list[int] = []

    def read() -> int:
        calls.append(1)
        if len(calls) == 3:
            raise ValueError("db down")
        return len(calls)

    cached = CachedReading(read, max_age=3600)
    assert [cached.get() for _ in range(5)] == [1] * 5
    assert len(calls) == 1
    every_time = CachedReading(read, max_age=0)
    assert every_time.get() == 2
    with pytest.raises(RuntimeError, match="reading unavailable"):
        every_time.get()
    assert every_time.get() == 4


def test_a_slow_reading_serves_the_previous_value_meanwhile() -> None:
    entered, release = threading.Event(), threading.Event()
    values = itertools.count(1)

    def read() -> int:
        value = next(values)
        if value == 2:
            entered.set()
            release.wait(30)
        return value

    cached = CachedReading(read, max_age=0.01)
    assert cached.get() == 1
    time.sleep(0.02)
    refresher = threading.Thread(target=cached.get)
    refresher.start()
    assert entered.wait(10)
    assert cached.get() == 1  # not queued behind the slow reading
    release.set()
    refresher.join()
    assert cached.get() >= 2
