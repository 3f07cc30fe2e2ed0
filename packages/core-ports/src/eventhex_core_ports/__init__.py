"""eventhex core: ports, the container that wires event_sourcery, a backend facade,
the in-memory reference adapter, the contract kit (``eventhex_core_ports.testing``), schema
evolution (``eventhex_core_ports.upcasting``) and the errors (``eventhex_core_ports.errors``).

Importable without Django. ``eventhex_core_ports._internal`` is for eventhex's own packages.
"""

from importlib.metadata import version as _version

from eventhex_core_ports.backend import ContainerBackend
from eventhex_core_ports.container import CoreContainer, not_configured
from eventhex_core_ports.errors import BackendNotConfigured
from eventhex_core_ports.in_memory import InMemoryBackend, InMemoryConfig

__all__ = [
    "BackendNotConfigured",
    "ContainerBackend",
    "CoreContainer",
    "InMemoryBackend",
    "InMemoryConfig",
    "__version__",
    "not_configured",
]

__version__ = _version("eventhex-core-ports")
"""This package's version (all three eventhex packages share it)."""
