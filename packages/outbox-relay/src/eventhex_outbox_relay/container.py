"""``RelayContainer``: the relay's composition root.

The only place that decides which outbox source, publisher and metrics back a relay. The CLI
builds one from validated settings; a test swaps a part with ``container.publisher.override(...)``.
"""

import os
import socket
import uuid

from dependency_injector import containers, providers

from eventhex_outbox_relay._backoff import Backoff
from eventhex_outbox_relay.metrics import PrometheusMetrics, RelayMetrics
from eventhex_outbox_relay.publishers import publisher_from_url
from eventhex_outbox_relay.relay import Relay
from eventhex_outbox_relay.settings import RelaySettings
from eventhex_outbox_relay.sources import load_source

__all__ = ["RelayContainer"]


def _owner(settings: RelaySettings) -> str:
    return settings.owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _webhook_secret(settings: RelaySettings) -> str | None:
    return settings.webhook_secret.get_secret_value() if settings.webhook_secret else None


def _metrics(settings: RelaySettings, source: object) -> RelayMetrics:
    # Prometheus counters are only worth keeping when the operations port serves them.
    if settings.http_port is None:
        return RelayMetrics()
    return PrometheusMetrics(source)  # type: ignore[arg-type]


class RelayContainer(containers.DeclarativeContainer):
    """Source, publisher, metrics and the relay loop, built from ``settings``."""

    settings = providers.Dependency(instance_of=RelaySettings)
    source = providers.Singleton(
        load_source, settings.provided.source, settings.provided.source_options
    )
    publisher = providers.Singleton(
        publisher_from_url,
        settings.provided.publisher_url,
        timeout=settings.provided.publish_timeout,
        webhook_secret=providers.Callable(_webhook_secret, settings),
        envelope=settings.provided.envelope,
    )
    metrics = providers.Singleton(_metrics, settings, source)
    relay = providers.Singleton(
        Relay,
        source,
        publisher,
        owner=providers.Callable(_owner, settings),
        batch_size=settings.provided.batch_size,
        lease=settings.provided.lease,
        poll_interval=settings.provided.poll_interval,
        backoff=providers.Factory(
            Backoff, settings.provided.backoff_base, settings.provided.backoff_max
        ),
        metrics=metrics,
    )
