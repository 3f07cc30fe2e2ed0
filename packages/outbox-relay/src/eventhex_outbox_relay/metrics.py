"""Relay counters, exported to Prometheus when ``prometheus-client`` is installed."""

from __future__ import annotations

from typing import Any

from eventhex_core_ports.ports.relay import OutboxSource

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


class PrometheusMetrics(RelayMetrics):
    """Counters plus outbox gauges (pending, in flight, dead, lag) read at scrape time.

    Args:
        source: The outbox whose statistics the gauges report.

    Raises:
        RuntimeError: ``prometheus-client`` is not installed.
    """

    def __init__(self, source: OutboxSource) -> None:
        try:
            import prometheus_client as prom
        except ImportError as error:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "metrics need prometheus-client: pip install 'eventhex-outbox-relay[prometheus]'"
            ) from error
        self._prom: Any = prom
        self._source = source
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
        """See :meth:`RelayMetrics.exposition`; refreshes the outbox gauges first."""
        stats = self._source.stats()
        self._pending.set(stats.pending)
        self._in_flight.set(stats.in_flight)
        self._dead_now.set(stats.dead)
        self._lag.set(stats.oldest_age.total_seconds() if stats.oldest_age else 0.0)
        data: bytes = self._prom.generate_latest(self.registry)
        return data
