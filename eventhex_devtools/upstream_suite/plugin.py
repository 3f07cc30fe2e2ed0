"""A pytest plugin that runs python-event-sourcery's suite on eventhex by changing only the import.

Loaded with ``-p`` before the suite's conftest files, it makes ``event_sourcery_django`` the
name of ``eventhex_django_adapter``: the suite's own ``django_backend`` fixture then builds
``eventhex_django_adapter.DjangoBackend().configure(DjangoConfig(...))``, exactly what a user's
code does after changing its import. The real ``event_sourcery_django`` is never imported.
"""

import os
import sys

import event_sourcery.backend

import eventhex_core_ports
import eventhex_django_adapter

if "event_sourcery_django" in sys.modules:  # pragma: no cover - a setup mistake, said loudly
    raise RuntimeError(
        "event_sourcery_django was imported before the eventhex upstream-suite plugin; load the "
        "plugin first (-p eventhex_devtools.upstream_suite.plugin)."
    )
sys.modules["event_sourcery_django"] = eventhex_django_adapter

if os.environ.get("EVENTHEX_UPSTREAM_IN_MEMORY") == "1":
    # The suite's in-memory cases import `InMemoryBackend` and `InMemoryConfig` from
    # `event_sourcery.backend`: eventhex's in-memory reference adapter stands in for them.
    event_sourcery.backend.InMemoryBackend = eventhex_core_ports.InMemoryBackend  # type: ignore[assignment,misc]
    event_sourcery.backend.InMemoryConfig = eventhex_core_ports.InMemoryConfig  # type: ignore[assignment,misc]
