"""eventhex outbox relay: a separately deployed process that drains an outbox to brokers.

Run it as ``eventhex-relay run --source django --publisher redis://…``; embed it with
:class:`Relay`, a source and a publisher.
"""

from importlib.metadata import version as _version

from eventhex_outbox_relay.publishers import publisher_from_url
from eventhex_outbox_relay.relay import DrainGaveUp, Relay, RelayReport
from eventhex_outbox_relay.settings import RelaySettings, load_settings
from eventhex_outbox_relay.sources import load_source

__all__ = [
    "DrainGaveUp",
    "Relay",
    "RelayReport",
    "RelaySettings",
    "__version__",
    "load_settings",
    "load_source",
    "publisher_from_url",
]

__version__ = _version("eventhex-outbox-relay")
"""This package's version (all three eventhex packages share it)."""
