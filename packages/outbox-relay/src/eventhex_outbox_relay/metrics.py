"""Relay counters, exported to Prometheus when ``prometheus-client`` is installed."""

from __future__ import annotations

import threading
import time
from typing import Any

from eventhex_core_ports.ports.relay import OutboxSource, OutboxStats

__all__ = ["PrometheusMetrics", "RelayMetrics"]


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
    """Counters plus outbox gauges (pending, in flight, dead, lag) read at scrape time.

    Args:
        source: The outbox whose statistics the gauges report.
        stats_ttl: Seconds a reading of the outbox statistics is reused by later scrapes.

    Raises:
        ImportError: ``prometheus-client`` is not installed (the ``prometheus`` extra).
    """

    def __init__(self, source: OutboxSource, stats_ttl: float = 5.0) -> None:
        import prometheus_client as prom  # the "prometheus" extra

        self._prom: Any = prom
        self._stats = _CachedStats(source, stats_ttl)
        self.registry = prom.CollectorRegistry()
        counter, gauge = prom.Counter, prom.Gauge
        self._published = counter(
            "eventhex_relay_published", "Messages published.", registry=self.registry
        )
        self._failed = counter(
            "eventhex_relay_failed", "Failed publishing attempts.", registry=self.registry
        )
        self._dead = counter(
            "eventhex_relay_dead_lettered", "Messages dead-lettered.", registry=self.registry
        )
        self._pending = gauge("eventhex_outbox_pending", "Entries waiting.", registry=self.registry)
        self._in_flight = gauge(
            "eventhex_outbox_in_flight", "Entries leased.", registry=self.registry
        )
        self._dead_now = gauge(
            "eventhex_outbox_dead", "Dead-lettered entries.", registry=self.registry
        )
        self._lag = gauge(
            "eventhex_outbox_lag_seconds", "Age of the oldest live entry.", registry=self.registry
        )

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
        """See :meth:`RelayMetrics.exposition`; refreshes the outbox gauges first (from a reading
        at most ``stats_ttl`` old)."""
        stats = self._stats.get()
        self._pending.set(stats.pending)
        self._in_flight.set(stats.in_flight)
        self._dead_now.set(stats.dead)
        self._lag.set(stats.oldest_age.total_seconds() if stats.oldest_age else 0.0)
        data: bytes = self._prom.generate_latest(self.registry)
        return data
