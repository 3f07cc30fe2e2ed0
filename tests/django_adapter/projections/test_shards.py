"""Sharded projections: each shard its own checkpoint and owner, every event once, in stream
order; the shard of a stream computed alike in Python and SQL; a changed ``shards`` refused."""

import io
import json
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F

from eventhex_django_adapter.models import Event
from eventhex_django_adapter.projections import (
    PlainProgress,
    ProjectionRunner,
    load_projections,
    projection_statuses,
    rebuild,
)
from eventhex_django_adapter.projections._shards import ShardOf, row_name, shard_of
from eventhex_django_adapter.projections._store import ShardsChanged
from eventhex_django_adapter.projections.models import ProjectionState
from tests.django_adapter.projections.conftest import (
    append_events,
    backend_for,
    expected_uuids,
    running,
)
from tests.django_adapter.projections.test_runner import applied
from tests.projection_app.projections import ShardedEvents
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


class FourShards(ShardedEvents):
    """``test.sharded`` redeployed with another number of shards."""

    shards = 4


def in_stream_order(alias: str, uuids: list[str]) -> bool:
    """Whether each stream's events appear in ``uuids`` in version order."""
    versions = {
        str(uuid): (stream, version)
        for uuid, stream, version in Event.objects.using(alias).values_list(
            "uuid", "stream_id", "version"
        )
    }
    last: dict[int, int] = {}
    for uuid in uuids:
        stream, version = versions[uuid]
        if version <= last.get(stream, -1):
            return False
        last[stream] = version
    return True


def test_python_and_sql_put_each_stream_in_the_same_shard(alias: str) -> None:
    backend = backend_for(alias)
    append_events(backend, 400, per_stream=2)
    for shards in (1, 3, 8):
        rows = Event.objects.using(alias).annotate(
            uuid_of_stream=F("stream__uuid"), shard=ShardOf("stream__uuid", shards)
        )
        pairs = list(rows.values_list("uuid_of_stream", "shard"))
        assert len(pairs) == 400
        assert all(shard == shard_of(uuid, shards) for uuid, shard in pairs)
        if shards == 8:
            assert {shard for _, shard in pairs} == set(range(8))  # 200 streams spread


class ShardedAtLeastOnce(ShardedEvents):
    """``test.sharded`` delivering each event outside a transaction."""

    delivery = "at_least_once"


@pytest.mark.parametrize("delivery", ["exactly_once", "at_least_once"])
def test_each_shard_applies_its_streams_once_in_order(alias: str, delivery: str) -> None:
    backend = backend_for(alias)
    projection = ShardedEvents() if delivery == "exactly_once" else ShardedAtLeastOnce()
    append_events(backend, 150, per_stream=3)

    with running(backend, [projection]) as runner:
        append_events(backend, 150, start=150, per_stream=3)
        wait_for(
            lambda: all(s.lag_events == 0 for s in projection_statuses(backend, [projection])),
            "every shard to catch up",
        )
        assert runner.owned() == sorted(row_name("test.sharded", 1, k, 8) for k in range(8))

    got = applied(alias, "test.sharded")
    assert sorted(got) == sorted(expected_uuids(backend, projection))
    assert len(set(got)) == 300
    assert in_stream_order(alias, got)
    rows = ProjectionState.objects.using(alias).filter(projection="test.sharded")
    assert sorted(rows.values_list("shard", "shards")) == [(k, 8) for k in range(8)]
    assert sum(rows.values_list("applied", flat=True)) == 300
    assert all(0 < row.applied < 300 for row in rows)  # every shard had streams of its own
    whole, *shards = projection_statuses(backend, [projection])
    assert (whole.name, whole.shard, whole.applied) == ("test.sharded", None, 300)
    assert whole.lag_events == 0
    assert [s.name for s in shards] == [f"test.sharded#{k}/8" for k in range(8)]
    assert whole.position == min(s.position for s in shards)


def test_a_changed_number_of_shards_is_refused_until_rebuilt(settings: object) -> None:
    backend = backend_for("default")
    append_events(backend, 60, per_stream=3)
    with running(backend, [ShardedEvents()]):
        wait_for(
            lambda: all(s.lag_events == 0 for s in projection_statuses(backend, [ShardedEvents()])),
            "the eight shards to catch up",
        )

    runner = ProjectionRunner([FourShards()], backend, threading.Event())
    with pytest.raises(ShardsChanged) as refused:
        runner.run()
    assert isinstance(refused.value, ImproperlyConfigured)
    message = str(refused.value)
    assert "8 shard(s) in the database but FourShards.shards = 4" in message
    assert "eventhex_projections rebuild test.sharded" in message
    assert "version = 2" in message

    result = rebuild(backend, FourShards(), PlainProgress("test.sharded", io.StringIO()))
    assert result.finished
    assert result.applied == 60
    rows = ProjectionState.objects.using("default").filter(projection="test.sharded")
    assert sorted(rows.values_list("shard", "shards")) == [(k, 4) for k in range(4)]
    got = applied("default", "test.sharded")
    assert sorted(got) == sorted(expected_uuids(backend, FourShards()))
    assert len(got) == 60
    assert in_stream_order("default", got)


SHOWN = [
    "tests.projection_app.projections.ShardedEvents",
    "tests.projection_app.projections.VersionOne",
    "tests.projection_app.projections.VersionTwo",
]


def test_status_and_admin_show_each_shard_and_which_version_is_live(settings: object) -> None:
    from django.contrib.auth.models import User
    from django.test import Client

    settings.EVENTHEX_PROJECTIONS = SHOWN  # type: ignore[attr-defined]
    backend = backend_for("default")
    append_events(backend, 40, per_stream=4)
    out = io.StringIO()
    with pytest.raises(CommandError) as nobody:  # no runner yet: status exits 3
        call_command("eventhex_projections", "status", "--json", stdout=out)
    assert nobody.value.returncode == 3
    shown = {s["name"]: s for s in json.loads(out.getvalue())}
    assert list(shown) == [
        "test.sharded",
        *(f"test.sharded#{k}/8" for k in range(8)),
        "test.versioned",
        "test.versioned@v2",
        "test.versioned@v2#0/2",
        "test.versioned@v2#1/2",
    ]
    assert shown["test.sharded"]["lag_events"] == 40
    assert sum(shown[f"test.sharded#{k}/8"]["lag_events"] for k in range(8)) == 40
    assert (shown["test.sharded"]["shard"], shown["test.sharded#3/8"]["shard"]) == (None, 3)
    assert shown["test.versioned"]["live"] is True
    assert shown["test.versioned@v2"]["live"] is False
    table = io.StringIO()
    with pytest.raises(CommandError):
        call_command("eventhex_projections", "status", stdout=table)
    assert "test.versioned@v2#1/2  no runner (not live yet)" in table.getvalue()

    with running(backend, load_projections(["test.sharded"])):
        wait_for(lambda: len(applied("default", "test.sharded")) == 40, "the 40 events")
    client = Client()
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "secret"))
    page = client.get("/admin/eventhex_projections/projectionstate/").content.decode()
    assert "test.sharded#7/8" in page
    assert "8 of 8" in page


def test_run_refuses_a_changed_number_of_shards_with_a_command_error(settings: object) -> None:
    from django.core.management.base import CommandError

    backend = backend_for("default")
    append_events(backend, 10)
    with running(backend, [ShardedEvents()]):
        wait_for(lambda: len(applied("default", "test.sharded")) == 10, "the 10 events")
    settings.EVENTHEX_PROJECTIONS = ["tests.django_adapter.projections.test_shards.FourShards"]  # type: ignore[attr-defined]
    with pytest.raises(CommandError, match="8 shard\\(s\\) in the database but FourShards"):
        call_command("eventhex_projections", "run")


def test_a_parked_event_stops_only_its_shard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ShardedEvents, "attempts", 1)
    monkeypatch.setattr(ShardedEvents, "fail_on", {"item-3"})
    backend = backend_for("default")
    append_events(backend, 30, per_stream=3)
    failing = {
        shard_of(stream, 8)
        for stream, data in Event.objects.values_list("stream__uuid", "data")
        if data.get("item") == "item-3"
    }
    projection = ShardedEvents()

    def settled() -> bool:
        _, *shards = projection_statuses(backend, [projection])
        return all(
            (s.state == "stopped") if s.shard in failing else (s.lag_events == 0) for s in shards
        )

    with running(backend, [projection]):
        wait_for(settled, "the failing shards to stop and the others to catch up")
    whole, *shards = projection_statuses(backend, [projection])
    assert 0 < len(failing) < 8
    assert whole.state == "stopped"
    assert whole.parked == len(failing)
    # the runner has stopped: the shards that did not park show that nobody runs them
    assert {s.shard for s in shards if s.state == "no runner"} == set(range(8)) - failing
