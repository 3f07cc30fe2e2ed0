"""The optional operations port: ``/healthz`` and Prometheus ``/metrics``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from eventhex_outbox_relay.metrics import RelayMetrics

__all__ = ["OperationsServer"]


class OperationsServer:
    """Serves health and metrics from a daemon thread.

    Args:
        host: Interface to bind.
        port: Port to bind (0 picks a free one; see :attr:`port`).
        metrics: Whose exposition ``/metrics`` returns.
        last_beat: Monotonic time of the relay loop's latest turn.
        stale_after: Seconds without a turn after which ``/healthz`` answers 503.
    """

    def __init__(
        self,
        host: str,
        port: int,
        metrics: RelayMetrics,
        last_beat: Callable[[], float],
        stale_after: float,
    ) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    healthy = time.monotonic() - last_beat() <= stale_after
                    outer._answer(self, 200 if healthy else 503, b"ok\n" if healthy else b"stale\n")
                elif self.path == "/metrics":
                    try:
                        body, status = metrics.exposition(), 200
                    except Exception as error:
                        body, status = f"stats unavailable: {error}\n".encode(), 503
                    outer._answer(self, status, body, "text/plain; version=0.0.4")
                else:
                    outer._answer(self, 404, b"not found\n")

            def log_message(self, format: str, *args: object) -> None:
                """Silence per-request logging; the relay logs what matters."""

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @staticmethod
    def _answer(
        handler: BaseHTTPRequestHandler, status: int, body: bytes, kind: str = "text/plain"
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def start(self) -> None:
        """Start serving in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
