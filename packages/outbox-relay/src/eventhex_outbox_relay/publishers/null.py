"""A publisher that discards everything: for dry runs and benchmarks."""

from __future__ import annotations

from collections.abc import Sequence

from eventhex_core_ports.ports.relay import OutboxMessage, Publisher, PublishOutcome

__all__ = ["NullPublisher"]


class NullPublisher(Publisher):
    """Reports every message delivered without sending it anywhere."""

    def publish(self, messages: Sequence[OutboxMessage]) -> list[PublishOutcome]:
        """See :meth:`Publisher.publish`."""
        return [PublishOutcome(m.entry_id, True) for m in messages]
