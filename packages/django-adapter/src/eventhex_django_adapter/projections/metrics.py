"""Projection metrics, exported to Prometheus when ``prometheus-client`` is installed.

``run --metrics-port PORT`` serves them over HTTP with
:class:`~eventhex_core_ports._internal.ops_http.OpsHttpServer` (bounded threads, read timeouts, idle
connections dropped at the cap). Counters (events applied,
handler failures, events parked) count what this runner did; the gauges (lag in events and
seconds, parked events waiting, ownership) are read from the database, so any runner reports
every projection. A served scrape gets an exposition at most ``scrape_cache_seconds`` old: the
database is read once per interval, however many scrapers ask.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from eventhex_core_ports._internal.cached_reading import CachedReading
from eventhex_core_ports._internal.ops_http import OpsHttpServer, Request, Response

__all__ = ["ProjectionMetrics", "PrometheusProjectionMetrics"]

logger = logging.getLogger("eventhex_django_adapter.projections")


class ProjectionMetrics:
    """What the runner reports; this base class discards it."""

    def applied(self, name: str, count: int) -> None:
        """``count`` events of projection ``name`` were applied and checkpointed."""

    def failed(self, name: str) -> None:
        """A handler of ``name`` raised, or an event of it could not be built (the event is
        retried or parked)."""

    def parked(self, name: str) -> None:
        """An event of ``name`` was parked."""

    def owned(self, name: str, owned: bool) -> None:
        """This runner took projection ``name`` over (True) or gave it up (False)."""

    def serve(self, port: int, address: str = "127.0.0.1") -> None:
        """Serve the metrics over HTTP; this base class has none to serve."""
        raise RuntimeError(
            "metrics need prometheus-client: pip install 'eventhex-django-adapter[prometheus]'"
        )

    def close(self) -> None:
        """Stop serving (nothing to stop here)."""


class PrometheusProjectionMetrics(ProjectionMetrics):
    """Prometheus counters and scrape-time gauges of every registered projection.

    Args:
        statuses: Returns the current status of every projection (see ``projection_statuses``);
            called for each exposition rendered.
        scrape_cache_seconds: Seconds a served exposition is reused by later scrapes.

    Raises:
        RuntimeError: ``prometheus-client`` is not installed.
    """

    def __init__(
        self, statuses: Callable[[], Sequence[Any]], *, scrape_cache_seconds: float = 5.0
    ) -> None:
        try:
            import prometheus_client as prom
        except ImportError as error:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "metrics need prometheus-client: pip install 'eventhex-django-adapter[prometheus]'"
            ) from error
        self._prom: Any = prom
        self._statuses = statuses
        self._scrape_cache_seconds = scrape_cache_seconds
        self._served: dict[str, CachedReading[bytes]] = {}
        self._server: OpsHttpServer | None = None
        self._owned_here: dict[str, bool] = {}
        self.registry = prom.CollectorRegistry()
        labels = ["projection"]
        self._applied = prom.Counter(
            "eventhex_projection_applied",
            "Events applied and checkpointed by this runner.",
            labels,
            registry=self.registry,
        )
        self._failed = prom.Counter(
            "eventhex_projection_handler_failures",
            "Handler calls that raised.",
            labels,
            registry=self.registry,
        )
        self._parked = prom.Counter(
            "eventhex_projection_parked",
            "Events this runner parked.",
            labels,
            registry=self.registry,
        )
        self.registry.register(_Gauges(self))

    def applied(self, name: str, count: int) -> None:
        """See :meth:`ProjectionMetrics.applied`."""
        self._applied.labels(name).inc(count)

    def failed(self, name: str) -> None:
        """See :meth:`ProjectionMetrics.failed`."""
        self._failed.labels(name).inc()

    def parked(self, name: str) -> None:
        """See :meth:`ProjectionMetrics.parked`."""
        self._parked.labels(name).inc()

    def owned(self, name: str, owned: bool) -> None:
        """See :meth:`ProjectionMetrics.owned`."""
        self._owned_here[name] = owned

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        data: bytes = self._prom.generate_latest(self.registry)
        return data

    def serve(self, port: int, address: str = "127.0.0.1") -> None:
        """Serve ``/metrics`` on ``address:port`` in the background (see :meth:`close`)."""
        self._server = OpsHttpServer(
            address, port, {"/metrics": self._scrape}, name="eventhex-projection-metrics"
        )
        self._server.start()

    @property
    def port(self) -> int | None:
        """The port served (the one picked when :meth:`serve` was given 0), or None."""
        return None if self._server is None else self._server.port

    def close(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def _scrape(self, request: Request) -> Response:
        from prometheus_client.exposition import choose_encoder

        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        cached = self._served.get(content_type)
        if cached is None:
            read = lambda: encoder(self.registry)  # noqa: E731
            cached = self._served[content_type] = CachedReading(read, self._scrape_cache_seconds)
        try:
            return Response(200, cached.get(), content_type)
        except RuntimeError:
            logger.exception("projection metrics unavailable")
            return Response(503, b"metrics unavailable\n")


class _Gauges:
    """A collector that reads every projection's status when Prometheus scrapes."""

    def __init__(self, metrics: PrometheusProjectionMetrics) -> None:
        self._metrics = metrics

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        families = {
            "lag_events": GaugeMetricFamily(
                "eventhex_projection_lag_events",
                "Selected events not applied yet.",
                labels=["projection"],
            ),
            "lag_seconds": GaugeMetricFamily(
                "eventhex_projection_lag_seconds",
                "Age of the oldest selected event not applied yet.",
                labels=["projection"],
            ),
            "parked": GaugeMetricFamily(
                "eventhex_projection_parked_events",
                "Parked events waiting for a retry or a skip.",
                labels=["projection"],
            ),
            "owned": GaugeMetricFamily(
                "eventhex_projection_owned",
                "1 when this runner owns the projection.",
                labels=["projection"],
            ),
            "stopped": GaugeMetricFamily(
                "eventhex_projection_stopped",
                "1 when the projection waits at a parked event.",
                labels=["projection"],
            ),
            "failing": GaugeMetricFamily(
                "eventhex_projection_failing",
                "1 when the projection's last try failed (an event being retried).",
                labels=["projection"],
            ),
            "replica_lag": GaugeMetricFamily(
                "eventhex_projection_replica_lag_seconds",
                "How far the replica the projection reads from is behind (0 on the primary).",
                labels=["projection"],
            ),
        }
        for status in self._metrics._statuses():
            name = [status.name]
            families["lag_events"].add_metric(name, status.lag_events)
            families["lag_seconds"].add_metric(name, status.lag_seconds)
            families["parked"].add_metric(name, status.parked)
            families["owned"].add_metric(name, float(self._metrics._owned_here.get(status.name, 0)))
            families["stopped"].add_metric(name, float(status.state == "stopped"))
            families["failing"].add_metric(name, float(status.state == "failing"))
            families["replica_lag"].add_metric(name, status.replica_lag_seconds)
        yield from families.values()
