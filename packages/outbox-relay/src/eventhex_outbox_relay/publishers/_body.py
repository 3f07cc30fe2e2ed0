"""The bytes every publisher sends for a message."""

from __future__ import annotations

import json

from eventhex_core_ports.ports.relay import OutboxMessage

__all__ = ["encode"]


def encode(message: OutboxMessage) -> bytes:
    """The message as compact JSON (UTF-8)."""
    return json.dumps(message.as_payload(), separators=(",", ":"), default=str).encode()
