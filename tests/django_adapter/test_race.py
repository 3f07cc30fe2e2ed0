"""Eight real processes race to create, then to extend the same stream, with an expected version
and then with the default one (``expected_version=0``: no check, but the event's version must be
free); then they all create the same unversioned stream, which must accept every one of them."""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from uuid import uuid4

import pytest
from django.db import connections
from event_sourcery import StreamId

from eventhex_core_ports.testing.events import ContractItemAdded
from tests.django_adapter._race_worker import race

from .conftest import backend_on

WRITERS = 8


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_exactly_one_writer_wins_each_round(alias: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Manager().Barrier(WRITERS)
    name = f"race-{uuid4().hex}"
    settings_dict = dict(connections[alias].settings_dict)

    with ProcessPoolExecutor(WRITERS, mp_context=context) as pool:
        futures = [pool.submit(race, settings_dict, alias, name, barrier) for _ in range(WRITERS)]
        outcomes = [future.result(timeout=120) for future in futures]

    creations = sorted(outcome[0] for outcome in outcomes)
    extensions = sorted(outcome[1] for outcome in outcomes)
    unchecked = sorted(outcome[2] for outcome in outcomes)
    assert creations == ["conflict"] * (WRITERS - 1) + ["ok"]
    assert extensions == ["conflict"] * (WRITERS - 1) + ["ok"]
    assert unchecked == ["conflict"] * (WRITERS - 1) + ["ok"]
    assert [outcome[3] for outcome in outcomes] == ["ok"] * WRITERS
    stream = StreamId(name=name, category="race")
    loaded = backend_on(alias).event_store.load_stream(stream)
    assert [event.version for event in loaded] == [1, 2, 3]
    assert all(isinstance(event.event, ContractItemAdded) for event in loaded)
    unversioned = StreamId(name=name, category="race-unversioned")
    assert len(backend_on(alias).event_store.load_stream(unversioned)) == WRITERS
