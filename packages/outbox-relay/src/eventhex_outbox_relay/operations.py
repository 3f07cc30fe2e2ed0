"""The optional operations port: ``/healthz`` and Prometheus ``/metrics``.

``/metrics`` is ``prometheus-client``'s exposition app on the relay's registry; this module adds
``/healthz`` and serves both on the standard library's WSGI server, hardened for a port that may
be reachable by more than a scraper: bound to loopback unless told otherwise, a timeout on every
socket operation, a deadline for each whole connection (a client trickling its request a byte at
a time is cut off), a cap on connections served at once, and a generic body when the metrics
cannot be read (the cause goes to the log, not to the caller).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from eventhex_outbox_relay.metrics import RelayMetrics

__all__ = ["OperationsServer"]

logger = logging.getLogger("eventhex.relay.operations")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class _Handler(WSGIRequestHandler):
    timeout = 5.0  # per socket operation; replaced per server in OperationsServer

    def log_message(self, format: str, *args: object) -> None:
        """Silence per-request logging; the relay logs what matters."""


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    """Serves each connection in a thread, at most ``max_connections`` at once, each for at most
    ``deadline`` seconds."""

    daemon_threads = True
    request_queue_size = 128  # a burst is accepted and turned away, not left to retransmit
    max_connections = 16
    deadline = 10.0

    def server_bind(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[socket.socket, float] = {}
        super().server_bind()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            if len(self._open) >= self.max_connections:
                self.shutdown_request(request)  # turned away at once rather than queued
                return
            self._open[request] = time.monotonic() + self.deadline
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._open.pop(request, None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out or went away: nothing to print (the standard library would
        write a traceback to standard error for each one)."""
        logger.debug("operations connection from %s ended with an error", client_address)

    def cut_overdue(self) -> int:
        """Shut down connections past their deadline; their threads then end."""
        now = time.monotonic()
        with self._lock:
            overdue = [sock for sock, end in self._open.items() if end <= now]
        for sock in overdue:
            with contextlib.suppress(OSError):  # already closed by its thread
                sock.shutdown(socket.SHUT_RDWR)
        return len(overdue)


class OperationsServer:
    """Serves health and metrics from daemon threads.

    Args:
        host: Interface to bind (``127.0.0.1``: this machine only).
        port: Port to bind (0 picks a free one; see :attr:`port`).
        metrics: Whose exposition app ``/metrics`` serves (``prometheus-client``'s own).
        last_beat: Monotonic time of the relay loop's latest turn.
        stale_after: Seconds without a turn after which ``/healthz`` answers 503.
        request_timeout: Seconds any one read or write on a connection may take.
        request_deadline: Seconds a connection may stay open in all.
        max_connections: Connections served at once; more are closed on arrival.
    """

    def __init__(
        self,
        host: str,
        port: int,
        metrics: RelayMetrics,
        last_beat: Callable[[], float],
        stale_after: float,
        *,
        request_timeout: float = 5.0,
        request_deadline: float = 10.0,
        max_connections: int = 16,
    ) -> None:
        self._metrics_app = metrics.wsgi_app()
        self._last_beat = last_beat
        self._stale_after = stale_after
        handler = type("Handler", (_Handler,), {"timeout": request_timeout})
        server_class = type(
            "Server",
            (_Server,),
            {"deadline": request_deadline, "max_connections": max_connections},
        )
        self._server = server_class((host, port), handler)
        self._server.set_app(self._app)
        self.port: int = self._server.server_address[1]
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._server.serve_forever, daemon=True),
            threading.Thread(target=self._reap, args=(request_deadline,), daemon=True),
        ]

    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if method != "GET":
            status, body = "405 Method Not Allowed", b"method not allowed\n"
        elif path == "/healthz":
            healthy = time.monotonic() - self._last_beat() <= self._stale_after
            status = "200 OK" if healthy else "503 Service Unavailable"
            body = b"ok\n" if healthy else b"stale\n"
        elif path == "/metrics":
            try:  # prometheus-client renders in full before it starts the response
                return self._metrics_app(environ, start_response)
            except Exception:
                logger.exception("metrics unavailable")
                status, body = "503 Service Unavailable", b"metrics unavailable\n"
        else:
            status, body = "404 Not Found", b"not found\n"
        headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
        start_response(status, headers)
        return [body]

    def _reap(self, deadline: float) -> None:
        while not self._stopping.wait(min(1.0, deadline / 4)):
            self._server.cut_overdue()

    def start(self) -> None:
        """Start serving in the background."""
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
