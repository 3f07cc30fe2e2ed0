"""The optional operations port: ``/healthz`` and Prometheus ``/metrics``.

Served by :class:`eventhex_core_ports._internal.ops_http.OpsHttpServer`: bound to loopback
unless told otherwise, one selector thread and two workers whatever the number of connections,
a read timeout and a deadline on every connection, the longest-waiting idle connection dropped when
a new one arrives at the cap (so idle or half-open connections never keep a liveness probe out),
``/healthz`` answered on the selector thread even while a scrape waits on the database, and a
generic body when the metrics cannot be read (the cause goes to the log, not to the caller).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from eventhex_core_ports._internal.ops_http import OpsHttpServer, Request, Response
from eventhex_outbox_relay.metrics import RelayMetrics

__all__ = ["OperationsServer"]

logger = logging.getLogger("eventhex.relay.operations")


class OperationsServer:
    """Serves health and metrics in the background.

    Args:
        host: Interface to bind (``127.0.0.1``: this machine only).
        port: Port to bind (0 picks a free one; see :attr:`port`).
        metrics: Whose exposition ``/metrics`` serves (text or OpenMetrics, as the scraper
            asks).
        last_beat: Monotonic time of the relay loop's latest turn.
        stale_after: Seconds without a turn after which ``/healthz`` answers 503.
        request_timeout: Seconds a connection may take to send its request.
        request_deadline: Seconds a connection may stay open in all.
        max_connections: Connections kept at once; at the cap the longest-waiting idle one is
            dropped for the newcomer.
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
        max_connections: int = 64,
    ) -> None:
        self._metrics = metrics
        self._last_beat = last_beat
        self._stale_after = stale_after
        self._server = OpsHttpServer(
            host,
            port,
            {"/healthz": self._health, "/metrics": self._exposition},
            read_timeout=request_timeout,
            deadline=request_deadline,
            max_connections=max_connections,
            inline=frozenset({"/healthz"}),
            name="eventhex-relay-ops",
        )
        self.port: int = self._server.port

    def _health(self, request: Request) -> Response:
        if time.monotonic() - self._last_beat() <= self._stale_after:
            return Response(200, b"ok\n")
        return Response(503, b"stale\n")

    def _exposition(self, request: Request) -> Response:
        try:
            body, content_type = self._metrics.exposition_for(request.headers.get("accept", ""))
        except Exception:
            logger.exception("metrics unavailable")
            return Response(503, b"metrics unavailable\n")
        return Response(200, body, content_type)

    def start(self) -> None:
        """Start serving in the background."""
        self._server.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.stop()
