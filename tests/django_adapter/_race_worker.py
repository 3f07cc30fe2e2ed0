"""Runs in a separate process: races other processes to create, then to extend one stream
(with an expected version, then with none), then to create an unversioned stream."""

import os
from multiprocessing.synchronize import Barrier
from typing import Any


def race(
    settings_dict: dict[str, Any], alias: str, stream_name: str, barrier: Barrier
) -> list[str]:
    """Append to a new stream, to version 1 of it, version 3 with the default expected version,
    then to a new unversioned stream.

    Returns one outcome per round: ``ok``, ``conflict`` or the unexpected error.
    """
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.django_adapter.settings"
    import django

    django.setup()
    from django.db import connections
    from event_sourcery import NO_VERSIONING, StreamId
    from event_sourcery.event import WrappedEvent
    from event_sourcery.exceptions import ConcurrentStreamWriteError

    from eventhex_core_ports.testing.events import ContractItemAdded
    from eventhex_django_adapter import DjangoBackend, DjangoConfig

    connections[alias].settings_dict.update(settings_dict)
    store = DjangoBackend().configure(DjangoConfig(database=alias)).event_store
    versioned = StreamId(name=stream_name, category="race")
    unversioned = StreamId(name=stream_name, category="race-unversioned")
    # (stream, expected version, the event's own version: None lets the event store number it)
    rounds = [
        (versioned, 0, None),
        (versioned, 1, None),
        (versioned, 0, 3),
        (unversioned, NO_VERSIONING, None),
    ]
    outcomes = []
    try:
        for stream, expected_version, version in rounds:
            connections[alias].ensure_connection()
            event = ContractItemAdded(item=str(os.getpid()))
            barrier.wait(timeout=60)
            try:
                if version is None:
                    store.append(event, stream_id=stream, expected_version=expected_version)
                else:  # numbered by the caller, appended with the default expected version
                    store.append(WrappedEvent.wrap(event, version=version), stream_id=stream)
                outcomes.append("ok")
            except ConcurrentStreamWriteError:
                outcomes.append("conflict")
            except Exception as error:  # the test fails on anything else
                outcomes.append(f"{type(error).__name__}: {error}")
    finally:
        connections.close_all()
    return outcomes
