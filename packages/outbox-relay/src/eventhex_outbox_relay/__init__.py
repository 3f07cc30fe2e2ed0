"""eventhex outbox relay: a separately deployed process that drains an outbox to brokers.

Run it as ``eventhex-relay run --source django --publisher redis://…``; embed it with
:class:`Relay`, a source and a publisher.
"""

from eventhex_outbox_relay.publishers import publisher_from_url
from eventhex_outbox_relay.relay import DrainGaveUp, Relay, RelayReport
from eventhex_outbox_relay.settings import RelaySettings, load_settings
from eventhex_outbox_relay.sources import load_source

__all__ = [
    "DrainGaveUp",
    "Relay",
    "RelayReport",
    "RelaySettings",
    "load_settings",
    "load_source",
    "publisher_from_url",
]
