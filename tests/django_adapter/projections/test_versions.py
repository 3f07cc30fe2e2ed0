"""Blue/green versions: a new version replays beside the live one, goes live once caught up,
and the old one is retired through its hook; readers never see an empty model."""

import threading
import time

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, transaction

from eventhex_django_adapter.projections import (
    live_version,
    load_projections,
    projection_statuses,
)
from eventhex_django_adapter.projections.models import ProjectionState
from tests.django_adapter.projections.conftest import (
    append_events,
    backend_for,
    expected_uuids,
    running,
)
from tests.django_adapter.projections.test_runner import applied
from tests.django_adapter.projections.test_shards import in_stream_order
from tests.projection_app.models import AppliedEvent
from tests.projection_app.projections import VersionOne, VersionTwo
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

NAME = "test.versioned"
VERSIONS = [
    "tests.projection_app.projections.VersionOne",
    "tests.projection_app.projections.VersionTwo",
]


@pytest.fixture(autouse=True)
def _forget_retirements() -> None:
    VersionOne.retired = []


def test_two_versions_of_a_name_may_be_registered_but_not_one_twice(settings: object) -> None:
    settings.EVENTHEX_PROJECTIONS = VERSIONS  # type: ignore[attr-defined]
    assert [(p.name, p.version) for p in load_projections([NAME])] == [(NAME, 1), (NAME, 2)]
    assert live_version(NAME) == 1  # before any run

    settings.EVENTHEX_PROJECTIONS = [VERSIONS[0], VERSIONS[0]]  # type: ignore[attr-defined]
    with pytest.raises(ImproperlyConfigured, match="with version 1; names must be unique"):
        load_projections()


def _writer(alias: str, halt: threading.Event, start: int) -> list[int]:
    appended = [start]

    def body() -> None:
        backend = backend_for(alias)
        try:
            while not halt.is_set():
                append_events(backend, 5, start=appended[0], per_stream=5)
                appended[0] += 5
                time.sleep(0.02)
        finally:
            connections.close_all()

    threading.Thread(target=body, name="writer", daemon=True).start()
    return appended


def _reader(alias: str, halt: threading.Event, seen: list[tuple[int, int]]) -> threading.Thread:
    """Reads the live version's model in one snapshot, as the guide tells read code to."""

    def body() -> None:
        try:
            while not halt.is_set():
                with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    version = live_version(NAME, alias)
                    label = NAME if version == 1 else f"{NAME}@v{version}"
                    rows = AppliedEvent.objects.using(alias).filter(projection=label).count()
                seen.append((version, rows))
                time.sleep(0.005)
        finally:
            connections.close_all()

    thread = threading.Thread(target=body, name="reader", daemon=True)
    thread.start()
    return thread


@pytest.mark.postgres
def test_a_new_version_catches_up_beside_the_live_one_then_replaces_it(settings: object) -> None:
    alias = "postgres"
    settings.EVENTHEX_TEST_PROJECTION_DATABASE = alias  # type: ignore[attr-defined]
    settings.EVENTHEX_TEST_HANDLE_DELAY = 0.002  # type: ignore[attr-defined]
    backend = backend_for(alias)
    one, two = VersionOne(), VersionTwo()
    append_events(backend, 300, per_stream=5)
    with running(backend, [one]):
        wait_for(lambda: len(applied(alias, NAME)) == 300, "version 1 to apply the first 300")

    halt = threading.Event()
    seen: list[tuple[int, int]] = []
    reader = _reader(alias, halt, seen)
    appended = _writer(alias, halt, 300)
    try:
        wait_for(lambda: appended[0] >= 400, "appends to go on")
        with running(backend, [one, two]):  # the deploy: both versions registered
            v1_at_start = len(applied(alias, NAME))
            wait_for(lambda: live_version(NAME, alias) == 2, "version 2 to go live", seconds=120)
            assert VersionOne.retired, "retire() was not called"
            v1_final = VersionOne.retired[0]
            assert len(v1_final) > v1_at_start  # version 1 kept applying while 2 caught up
            wait_for(lambda: appended[0] >= len(v1_final) + 100, "appends after the switch")
            halt.set()
            reader.join()
            wait_for(
                lambda: all(s.lag_events == 0 for s in projection_statuses(backend, [two])),
                "version 2 to catch up after the writer stopped",
            )
            statuses = {s.name: s for s in projection_statuses(backend, [one, two])}
    finally:
        halt.set()

    assert len(VersionOne.retired) == 1  # once
    assert applied(alias, NAME) == []  # retire() dropped version 1's rows
    v2 = applied(alias, f"{NAME}@v2")
    assert sorted(v2) == sorted(expected_uuids(backend, two))
    assert len(set(v2)) == len(v2)
    assert len(v2) == appended[0]
    assert set(v1_final) <= set(v2)
    assert len(set(v1_final)) == len(v1_final)
    assert in_stream_order(alias, v1_final)
    assert in_stream_order(alias, v2)
    # Readers always found rows in the live model, and saw version 1, then version 2 only.
    assert seen
    assert all(rows > 0 for _, rows in seen), [s for s in seen if s[1] == 0][:3]
    versions = [version for version, _ in seen]
    assert versions == sorted(versions)
    assert set(versions) == {1, 2}
    # Version 2 went live holding every event version 1 held: the model never went back.
    assert max(n for v, n in seen if v == 1) <= min(n for v, n in seen if v == 2)
    states = ProjectionState.objects.using(alias).filter(projection=NAME)
    assert dict(states.values_list("name", "state")) == {
        NAME: "retired",
        f"{NAME}@v2#0/2": "running",
        f"{NAME}@v2#1/2": "running",
    }
    assert (statuses[NAME].live, statuses[f"{NAME}@v2"].live) == (False, True)
    assert statuses[NAME].state == "retired"
