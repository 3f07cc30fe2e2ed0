"""Helpers for the projection tests: appending events, running a runner, the expected order."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connections, transaction
from event_sourcery import StreamId
from event_sourcery.event import Event

from eventhex_core_ports.testing.events import ContractItemAdded, ContractItemRemoved
from eventhex_django_adapter import DjangoBackend, DjangoConfig
from eventhex_django_adapter.projections import Projection, ProjectionRunner
from eventhex_django_adapter.projections._worker import subscribe
from tests.projection_app import REGISTERED
from tests.projection_app.projections import AllEvents, CartEvents, Removals

WAIT = 60.0
"""The longest a test waits for runners to catch up before it fails."""


@pytest.fixture(autouse=True)
def _projection_settings(settings: object, alias_for_projections: str) -> Iterator[None]:
    settings.EVENTHEX_PROJECTIONS = REGISTERED  # type: ignore[attr-defined]
    settings.EVENTHEX_TEST_PROJECTION_DATABASE = alias_for_projections  # type: ignore[attr-defined]
    settings.EVENTHEX_PROJECTIONS_BACKEND = "tests.projection_app.backends.projections_backend"  # type: ignore[attr-defined]
    _clean_recordings()
    yield
    _clean_recordings()  # tests elsewhere (tests/reliability) use these projections too


def _clean_recordings() -> None:
    for cls in (AllEvents, CartEvents, Removals):
        cls.fail_on = set()
        cls.calls = []


@pytest.fixture
def alias_for_projections(request: pytest.FixtureRequest) -> str:
    """The alias under test: the ``alias`` fixture's when the test uses it, else ``default``."""
    if "alias" in request.fixturenames:
        return str(request.getfixturevalue("alias"))
    return "default"


def backend_for(alias: str) -> DjangoBackend:
    """A backend on ``alias`` that wakes caught-up subscriptions quickly."""
    return DjangoBackend().configure(DjangoConfig(database=alias, gap_retry_interval=0.2))


def make_event(number: int) -> Event:
    """Mostly additions, every fifth a removal; items repeat so counts add up."""
    item = f"item-{number % 7}"
    if number % 5 == 4:
        return ContractItemRemoved(item=item)
    return ContractItemAdded(item=item, quantity=1 + number % 3)


def append_events(backend: DjangoBackend, count: int, start: int = 0, per_stream: int = 10) -> None:
    """Append ``count`` events to streams of ``per_stream``, in ``cart`` and ``wishlist``."""
    alias = backend[DjangoConfig].database
    store = backend.event_store
    number = start
    while number < start + count:
        size = min(per_stream, start + count - number)
        stream_number = number // per_stream
        category = "cart" if stream_number % 3 else "wishlist"
        stream = StreamId(name=f"s-{stream_number}-{number}", category=category)
        events = [make_event(n) for n in range(number, number + size)]
        with transaction.atomic(using=alias):
            store.append(*events, stream_id=stream)
        number += size


def expected_uuids(backend: DjangoBackend, projection: Projection) -> list[str]:
    """Every event the projection selects, in commit order, read through a subscription."""
    found: list[str] = []
    for batch in subscribe(backend, projection, 0):
        found.extend(str(record.wrapped_event.uuid) for record in batch)
        if len(batch) < projection.batch_size:
            return found
    return found


@contextmanager
def running(
    backend: DjangoBackend, projections: list[Projection], **options: object
) -> Iterator[ProjectionRunner]:
    """A runner in a background thread, stopped (and joined) on exit."""
    stop = threading.Event()
    runner = ProjectionRunner(projections, backend, stop, claim_interval=0.1, **options)  # type: ignore[arg-type]
    errors: list[BaseException] = []

    def body() -> None:
        try:
            runner.run()
        except BaseException as error:  # reported by the test
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=body, name="runner", daemon=True)
    thread.start()
    try:
        yield runner
    finally:
        stop.set()
        thread.join(WAIT)
        assert not thread.is_alive(), "the runner did not stop"
        assert not errors, errors
