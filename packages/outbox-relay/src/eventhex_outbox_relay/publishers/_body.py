"""The bytes every publisher sends for a message, and the envelope that shapes them."""

from __future__ import annotations

import json

from eventhex_core_ports.ports.relay import OutboxMessage, PublishOutcome

__all__ = ["ENVELOPES", "encode", "failure", "wants_cloudevents"]

ENVELOPES = ("eventhex", "cloudevents")
"""``eventhex``: our JSON object (the default); ``cloudevents``: CloudEvents 1.0."""


def encode(message: OutboxMessage) -> bytes:
    """The message as compact JSON (UTF-8): the ``eventhex`` envelope."""
    return json.dumps(message.as_payload(), separators=(",", ":"), default=str).encode()


def wants_cloudevents(envelope: str) -> bool:
    """Whether ``envelope`` is CloudEvents; for CloudEvents, import the SDK now, so that a relay
    without it stops at start-up (the ``ImportError`` names the ``cloudevents`` module).

    Raises:
        ValueError: An envelope other than those in :data:`ENVELOPES`.
        ImportError: ``cloudevents`` without the SDK installed.
    """
    if envelope == "eventhex":
        return False
    if envelope == "cloudevents":
        import eventhex_outbox_relay.publishers._cloudevents  # noqa: F401

        return True
    raise ValueError(f"unknown envelope {envelope!r}: use one of {', '.join(ENVELOPES)}")


def failure(message: OutboxMessage, publisher: str, error: BaseException) -> PublishOutcome:
    """The outcome of a message that could not be sent because of ``error``."""
    return PublishOutcome(message.entry_id, False, f"{publisher}: {type(error).__name__}: {error}")
