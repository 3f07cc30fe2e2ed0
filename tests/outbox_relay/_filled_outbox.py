"""An in-memory outbox with two entries for relay processes (``--source
tests.outbox_relay._filled_outbox:OUTBOX``)."""

from uuid import uuid4

from eventhex_core_ports.in_memory.relay_source import InMemoryOutboxSource

OUTBOX = InMemoryOutboxSource()
for version in (1, 2):
    OUTBOX.enqueue(stream_uuid=uuid4(), stream_category="order", version=version, data={})
