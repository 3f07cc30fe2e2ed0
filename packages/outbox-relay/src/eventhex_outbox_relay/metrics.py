"""Relay counters, exported to Prometheus when ``prometheus-client`` is installed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from eventhex_core_ports.ports.relay import OutboxSource, OutboxStats

__all__ = ["PrometheusMetrics", "RelayMetrics", "WsgiApp"]

WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


class RelayMetrics:
    """Counters the relay feeds; this base class discards them."""

    def published(self, count: int) -> None:
        """Messages the broker accepted."""

    def failed(self, count: int) -> None:
        """Failed publishing attempts."""

    def dead_lettered(self, count: int) -> None:
        """Messages moved to the dead letters."""

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return b""

    def wsgi_app(self) -> WsgiApp:
        """A WSGI application serving :meth:`exposition`."""

        def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            body = self.exposition()
            start_response("200 OK", [("Content-Type", "text/plain; version=0.0.4")])
            return [body]

        return app


class _CachedStats:
    """The source's statistics, read at most once per ``ttl`` seconds (its failure too), so that
    frequent or concurrent scrapes cost the outbox one aggregate query per interval."""

    def __init__(self, source: OutboxSource, ttl: float) -> None:
        self._source = source
        self._ttl = ttl
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._value: OutboxStats | Exception | None = None

    def get(self) -> OutboxStats:
        with self._lock:
            now = time.monotonic()
            if self._read_at is None or now - self._read_at >= self._ttl:
                try:
                    self._value = self._source.stats()
                except Exception as error:
                    self._value = error
                self._read_at = now
            value = self._value
        if isinstance(value, Exception):
            raise RuntimeError("outbox statistics unavailable") from value
        assert value is not None
        return value


class PrometheusMetrics(RelayMetrics):
    """Counters in a ``prometheus-client`` registry, plus outbox gauges (pending, in flight,
    dead, lag) collected at scrape time from a reading at most ``stats_ttl`` seconds old.

    Args:
        source: The outbox whose statistics the gauges report.
        stats_ttl: Seconds a reading of the outbox statistics is reused by later scrapes.

    Raises:
        ImportError: ``prometheus-client`` is not installed (the ``prometheus`` extra).
    """

    def __init__(self, source: OutboxSource, stats_ttl: float = 5.0) -> None:
        import prometheus_client as prom  # the "prometheus" extra

        self._prom: Any = prom
        self.registry = prom.CollectorRegistry()
        counter = prom.Counter
        self._published = counter(
            "eventhex_relay_published", "Messages published.", registry=self.registry
        )
        self._failed = counter(
            "eventhex_relay_failed", "Failed publishing attempts.", registry=self.registry
        )
        self._dead = counter(
            "eventhex_relay_dead_lettered", "Messages dead-lettered.", registry=self.registry
        )
        self.registry.register(_OutboxCollector(_CachedStats(source, stats_ttl)))

    def published(self, count: int) -> None:
        """See :meth:`RelayMetrics.published`."""
        self._published.inc(count)

    def failed(self, count: int) -> None:
        """See :meth:`RelayMetrics.failed`."""
        self._failed.inc(count)

    def dead_lettered(self, count: int) -> None:
        """See :meth:`RelayMetrics.dead_lettered`."""
        self._dead.inc(count)

    def exposition(self) -> bytes:
        """See :meth:`RelayMetrics.exposition`."""
        data: bytes = self._prom.generate_latest(self.registry)
        return data

    def wsgi_app(self) -> WsgiApp:
        """``prometheus-client``'s own exposition app on this registry (text or OpenMetrics as
        the scraper asks, compressed when it accepts gzip)."""
        app: WsgiApp = self._prom.make_wsgi_app(self.registry)
        return app


class _OutboxCollector:
    """The outbox gauges, from the cached statistics, each time the registry is collected."""

    def __init__(self, stats: _CachedStats) -> None:
        self._stats = stats

    def describe(self) -> list[Any]:
        """Nothing to describe ahead: registering must not read the outbox."""
        return []

    def collect(self) -> Iterator[Any]:
        """The four gauges."""
        from prometheus_client.core import GaugeMetricFamily

        stats = self._stats.get()
        lag = stats.oldest_age.total_seconds() if stats.oldest_age else 0.0
        for name, text, value in (
            ("eventhex_outbox_pending", "Entries waiting.", stats.pending),
            ("eventhex_outbox_in_flight", "Entries leased.", stats.in_flight),
            ("eventhex_outbox_dead", "Dead-lettered entries.", stats.dead),
            ("eventhex_outbox_lag_seconds", "Age of the oldest live entry.", lag),
        ):
            yield GaugeMetricFamily(name, text, value=value)
