"""Relay counters, exported to Prometheus when ``prometheus-client`` is installed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from eventhex_core_ports._internal.cached_reading import CachedReading
from eventhex_core_ports.ports.relay import OutboxSource, OutboxStats

__all__ = ["TEXT_FORMAT", "PrometheusMetrics", "RelayMetrics"]

TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"
"""The Prometheus text format's content type."""


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

    def exposition_for(self, accept: str) -> tuple[bytes, str]:
        """The exposition in the format an ``Accept`` header asks for, and its content type."""
        return self.exposition(), TEXT_FORMAT


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
        self.registry.register(_OutboxCollector(CachedReading(source.stats, stats_ttl)))

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

    def exposition_for(self, accept: str) -> tuple[bytes, str]:
        """See :meth:`RelayMetrics.exposition_for`: text, or OpenMetrics when asked."""
        from prometheus_client.exposition import choose_encoder

        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type


class _OutboxCollector:
    """The outbox gauges, from the cached statistics, each time the registry is collected."""

    def __init__(self, stats: CachedReading[OutboxStats]) -> None:
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
