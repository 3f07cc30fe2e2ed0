"""The bytes every publisher sends for a message."""

from __future__ import annotations

import json

from eventhex_core_ports.ports.relay import OutboxMessage, PublishOutcome

__all__ = ["encode", "failure"]


def encode(message: OutboxMessage) -> bytes:
    """The message as compact JSON (UTF-8)."""
    return json.dumps(message.as_payload(), separators=(",", ":"), default=str).encode()


def failure(message: OutboxMessage, publisher: str, error: BaseException) -> PublishOutcome:
    """The outcome of a message that could not be sent because of ``error``."""
    return PublishOutcome(message.entry_id, False, f"{publisher}: {type(error).__name__}: {error}")
