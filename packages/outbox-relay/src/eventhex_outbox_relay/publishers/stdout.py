"""Standard output as JSON lines: the default publisher, needs nothing."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from eventhex_core_ports.ports.relay import (
    OutboxMessage,
    Publisher,
    PublisherUnavailable,
    PublishOutcome,
)
from eventhex_outbox_relay.publishers._body import encode

__all__ = ["StdoutPublisher"]


class StdoutPublisher(Publisher):
    """Writes one JSON object per message and line, flushed per batch.

    Args:
        stream: Where to write (standard output by default).
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout

    def publish(self, messages: Sequence[OutboxMessage]) -> list[PublishOutcome]:
        """See :meth:`Publisher.publish`."""
        text = "".join(encode(m).decode() + "\n" for m in messages)
        try:
            self._stream.write(text)
            self._stream.flush()
        except OSError as error:
            raise PublisherUnavailable(f"cannot write to standard output: {error}") from error
        return [PublishOutcome(m.entry_id, True) for m in messages]
