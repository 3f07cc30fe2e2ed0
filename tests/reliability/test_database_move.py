"""A database moved to another PostgreSQL cluster with pg_dump and pg_restore (issue 21).

The session starts two clusters. The old one has run for a while (its transaction ids are pushed
tens of thousands past the new one's). There the store is migrated, takes ten events; a
subscriber, a category
subscriber and a projection (checkpoint position plus ``DjangoCursorsDao`` cursors) read them,
and a relay publishes part of the outbox. The database is dumped once and restored into a fresh
database on the new cluster for each test. There, with no manual step:

* the first append rebases; subscribers resuming from their stored positions receive exactly
  the new events, in commit order; a subscriber from 0 receives every event once, old ones at
  their old positions; the projection applies only the new events; the relay publishes the
  rest of the outbox, each event once overall, each stream in order;
* the first read rebases too; until then the system check warns, ``eventhex_rebase --check``
  fails, and a read-only transaction refuses with the command to run;
* concurrent first appends rebase once, also when the stored system identifier is unknown and
  only the transaction ids tell;
* the example's ``import_event_sourcery_django``, run on a moved database, prints and writes
  the rebased ``tx_id`` its events carry.
"""

import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connections, transaction
from event_sourcery import StreamId
from event_sourcery.event import Recorded, WrappedEvent
from event_sourcery.read_model import Projector
from eventhex_devtools.postgres import ThrowawayPostgres

from eventhex_core_ports.ports.relay import OutboxMessage, Publisher, PublishOutcome
from eventhex_django_adapter import DjangoBackend, DjangoConfig, DjangoCursorsDao
from eventhex_django_adapter.checks import check_position_clock
from eventhex_django_adapter.models import Event as EventRow
from eventhex_django_adapter.models import ProjectionCursor
from eventhex_django_adapter.relay_source import DjangoOutboxSource
from eventhex_outbox_relay import Relay
from tests.examples._run import run_example

from ._moved_database import burn_transaction_ids, create_database, dump, registered, restore
from ._support import Noted

pytestmark = [pytest.mark.postgres]

OLD = "moved_from"
UPSTREAM_SCRIPT = "tests/examples/_upstream_store.py"
PROJECTION = "move.balances"
STREAMS = {
    "acct-1": StreamId(name="acct-1", category="move-a"),
    "acct-2": StreamId(name="acct-2", category="move-b"),
    "acct-3": StreamId(name="acct-3", category="move-a"),
    "acct-4": StreamId(name="acct-4", category="move-a"),
}


class RecordingPublisher(Publisher):
    """Delivers everything it is given, and remembers it."""

    def __init__(self) -> None:
        self.messages: list[OutboxMessage] = []

    def publish(self, messages: Any) -> list[PublishOutcome]:
        self.messages.extend(messages)
        return [PublishOutcome(m.entry_id, True) for m in messages]


class ReadModel:
    """A projection: every applied event as (stream name, version, text)."""

    def __init__(self, alias: str, backend: DjangoBackend) -> None:
        self.applied: list[tuple[str, int, str]] = []
        self.projector = Projector(backend.event_store, PROJECTION, DjangoCursorsDao(alias), self)

    def __call__(self, wrapped: WrappedEvent[Any], stream_id: StreamId) -> None:
        self.applied.append((stream_id.name or "", wrapped.version or 0, wrapped.event.text))

    def project(self, records: list[Recorded]) -> None:
        for record in records:
            self.projector.project(record.wrapped_event, record.stream_id)


@dataclass
class OldStore:
    """What the old cluster held when it was dumped, and what its readers had stored."""

    dump: Path
    uuids: list[Any]
    positions: list[int]
    newest_tx_id: int
    all_position: int
    category_position: int
    versions: dict[str, int]
    published: list[OutboxMessage]


def _backend(alias: str) -> DjangoBackend:
    config = DjangoConfig(database=alias, gap_retry_interval=timedelta(seconds=0.05))
    return DjangoBackend().configure(config).with_outbox()


def _append(backend: DjangoBackend, versions: dict[str, int], name: str, text: str) -> None:
    version = versions.get(name, 0)
    backend.event_store.append(Noted(text=text), stream_id=STREAMS[name], expected_version=version)
    versions[name] = version + 1


def _read(backend: DjangoBackend, start: int, category: str | None = None) -> list[Recorded]:
    """Every event readable after ``start``: batches until one comes back empty.

    Everything the test wrote has committed, so each batch holds all that is readable.
    """
    builder = backend.subscriber.start_from(start)
    if category is not None:
        builder = builder.to_category(category)
    batches: Iterator[list[Recorded]] = builder.build_batch(100, timedelta(seconds=0.2))
    found: list[Recorded] = []
    while batch := next(batches):
        found.extend(batch)
    return found


def _read_only(backend: DjangoBackend, alias: str, start: int) -> list[Recorded]:
    with transaction.atomic(using=alias):
        with connections[alias].cursor() as cursor:
            cursor.execute("SET TRANSACTION READ ONLY")
        return _read(backend, start)


def _uuids(records: list[Recorded]) -> list[Any]:
    return [record.wrapped_event.uuid for record in records]


def _rebases(alias: str) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT rebases FROM eventhex_position_shift")
        (count,) = cursor.fetchone()
    return int(count)


@pytest.fixture(scope="module")
def clusters() -> Iterator[tuple[ThrowawayPostgres, ThrowawayPostgres]]:
    """The old cluster and the new one, both started by this module."""
    old = ThrowawayPostgres(prefix="eventhex-move-old-")
    new = ThrowawayPostgres(prefix="eventhex-move-new-")
    try:
        old.start()
        new.start()
        yield old, new
    finally:
        old.close()
        new.close()


@pytest.fixture(scope="module")
def old_store(
    clusters: tuple[ThrowawayPostgres, ThrowawayPostgres],
    django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> OldStore:
    """Fill the store on the old cluster, let its readers store positions, dump it."""
    old, _ = clusters
    create_database(old, "eventhex")
    path = tmp_path_factory.mktemp("move") / "eventhex.dump"
    with django_db_blocker.unblock(), registered(OLD, old, "eventhex"):
        call_command("migrate", "eventhex", database=OLD, verbosity=0)
        burn_transaction_ids(old, 20_000)
        backend = _backend(OLD)
        versions: dict[str, int] = {}
        names = ["acct-1", "acct-2", "acct-1", "acct-3", "acct-2", "acct-3", "acct-1", "acct-2"]
        for n, name in enumerate(names):
            _append(backend, versions, name, f"old #{n}")
        everything = _read(backend, 0)
        stored = EventRow.objects.using(OLD).order_by("tx_id", "id").values_list("tx_id", "id")
        assert [r.position for r in everything] == [(tx << 64) | i for tx, i in stored]
        category = _read(backend, 0, "move-a")
        ReadModel(OLD, backend).project(everything)
        publisher = RecordingPublisher()
        source = DjangoOutboxSource(OLD)
        try:  # one claim of the five oldest entries; the rest stays in the outbox
            Relay(source, publisher, owner="old-relay", batch_size=5).step()
        finally:
            source.close()
        assert 0 < len(publisher.messages) < len(everything)
        newest = max(EventRow.objects.using(OLD).values_list("tx_id", flat=True))
        connections[OLD].close()
        dump(old, "eventhex", path)
    return OldStore(
        dump=path,
        uuids=_uuids(everything),
        positions=[r.position for r in everything],
        newest_tx_id=newest,
        all_position=everything[-1].position,
        category_position=category[-1].position,
        versions=versions,
        published=publisher.messages,
    )


@pytest.fixture
def moved(
    request: pytest.FixtureRequest,
    clusters: tuple[ThrowawayPostgres, ThrowawayPostgres],
    old_store: OldStore,
    django_db_blocker: Any,
) -> Iterator[str]:
    """The old store restored into a database of its own on the new cluster; its alias."""
    _, new = clusters
    name = f"moved_{request.node.name.removeprefix('test_')[:40]}"
    restore(new, old_store.dump, name)
    with django_db_blocker.unblock(), registered("moved", new, name) as alias:
        yield alias


def test_after_a_move_readers_resume_and_the_first_append_rebases(
    moved: str, old_store: OldStore
) -> None:
    backend = _backend(moved)
    versions = dict(old_store.versions)
    for n, name in enumerate(["acct-1", "acct-4", "acct-2", "acct-4", "acct-3"]):
        _append(backend, versions, name, f"new #{n}")
    stored_new = list(
        EventRow.objects.using(moved).filter(data__text__startswith="new").order_by("id")
    )
    new_uuids = [row.uuid for row in stored_new]

    resumed = _read(backend, old_store.all_position)
    resumed_category = _read(backend, old_store.category_position, "move-a")
    from_zero = _read(backend, 0)

    assert _uuids(resumed) == new_uuids  # exactly the five, in commit order
    assert min(row.tx_id for row in stored_new) > old_store.newest_tx_id
    assert _uuids(resumed_category) == [row.uuid for row in stored_new if row.category == "move-a"]
    assert _uuids(from_zero) == old_store.uuids + new_uuids
    assert [r.position for r in from_zero][: len(old_store.positions)] == old_store.positions
    positions = [r.position for r in from_zero]
    assert positions == sorted(set(positions))
    assert _rebases(moved) == 1

    # the projection carries on from its cursors: only the new events are applied
    projection = ReadModel(moved, backend)
    projection.project(resumed)
    projection.project(from_zero[:3])  # a replay of old events is skipped
    assert projection.applied == [
        (row.stream.name, row.version, row.data["text"]) for row in stored_new
    ]
    cursors = dict(
        ProjectionCursor.objects.using(moved)
        .filter(name=PROJECTION)
        .values_list("stream_uuid", "version")
    )
    assert cursors == {UUID(str(STREAMS[name])): version for name, version in versions.items()}

    # the relay publishes what was left in the outbox: each event once overall, streams in order
    publisher = RecordingPublisher()
    source = DjangoOutboxSource(moved)
    try:
        Relay(source, publisher, owner="new-relay", poll_interval=0.05).run(drain=True)
    finally:
        source.close()
    published = old_store.published + publisher.messages
    assert Counter(m.event_uuid for m in published) == Counter(old_store.uuids + new_uuids)
    for stream in STREAMS.values():
        in_stream = [m for m in published if m.stream_uuid == stream]
        assert [m.version for m in in_stream] == list(range(1, len(in_stream) + 1))
        assert [m.position for m in in_stream] == sorted(m.position for m in in_stream)


def test_the_first_read_rebases_and_until_then_checks_report_the_move(
    moved: str, old_store: OldStore
) -> None:
    backend = _backend(moved)  # also puts the alias under the system checks

    (warning,) = check_position_clock(databases=[moved])
    assert warning.id == "eventhex.W002"
    assert "eventhex_rebase" in (warning.hint or "")
    with pytest.raises(CommandError, match="need a rebase"):
        call_command("eventhex_rebase", "--check", database=moved)
    with pytest.raises(DatabaseError, match="eventhex_rebase"):
        _read_only(backend, moved, old_store.all_position)

    builder = backend.subscriber.start_from(old_store.all_position)
    resumed = builder.build_batch(100, timedelta(seconds=0.2))
    assert next(resumed) == []  # nothing new yet, and the read has rebased
    assert check_position_clock(databases=[moved]) == []
    call_command("eventhex_rebase", "--check", database=moved)
    versions = dict(old_store.versions)
    for n, name in enumerate(["acct-2", "acct-1", "acct-4", "acct-4", "acct-1"]):
        _append(backend, versions, name, f"new #{n}")
    new_uuids = list(
        EventRow.objects.using(moved)
        .filter(data__text__startswith="new")
        .order_by("tx_id", "id")
        .values_list("uuid", flat=True)
    )

    received: list[Recorded] = []
    while batch := next(resumed):
        received.extend(batch)

    assert _uuids(received) == new_uuids
    assert _rebases(moved) == 1


def test_a_forced_rebase_waits_until_the_application_has_stopped(
    moved: str, old_store: OldStore
) -> None:
    backend = _backend(moved)
    versions = dict(old_store.versions)
    _append(backend, versions, "acct-1", "new #0")  # rebases: the store moved
    newest = max(EventRow.objects.using(moved).values_list("tx_id", flat=True))
    application = connections[moved].get_connection_params()

    with psycopg.connect(**application), pytest.raises(CommandError, match="stopped"):
        call_command("eventhex_rebase", "--force", database=moved)
    out = StringIO()
    call_command("eventhex_rebase", "--force", database=moved, stdout=out)
    _append(backend, versions, "acct-1", "new #1")

    assert "rebased positions (forced)" in out.getvalue()
    assert _rebases(moved) == 2
    assert max(EventRow.objects.using(moved).values_list("tx_id", flat=True)) >= newest + (1 << 32)
    assert _uuids(_read(backend, old_store.all_position)) == list(
        EventRow.objects.using(moved)
        .filter(data__text__startswith="new")
        .order_by("id")
        .values_list("uuid", flat=True)
    )


def test_concurrent_first_appends_rebase_once(moved: str, old_store: OldStore) -> None:
    with connections[moved].cursor() as cursor:  # as if this role may not read pg_control
        cursor.execute("UPDATE eventhex_position_shift SET system_identifier = NULL")
    connections[moved].close()
    writers, rounds = 4, 3
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write(number: int) -> None:
        backend = _backend(moved)
        stream = StreamId(name=f"race-{number}", category="race")
        try:
            start.wait()
            for version in range(rounds):
                backend.event_store.append(
                    Noted(text=f"{number}/{version}"), stream_id=stream, expected_version=version
                )
        except BaseException as error:
            failures.append(error)
        finally:
            connections[moved].close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert _rebases(moved) == 1
    stored = list(
        EventRow.objects.using(moved)
        .filter(category="race")
        .order_by("tx_id", "id")
        .values_list("uuid", "tx_id")
    )
    assert len(stored) == writers * rounds
    assert min(tx_id for _, tx_id in stored) > old_store.newest_tx_id
    resumed = _read(_backend(moved), old_store.all_position)
    assert _uuids(resumed) == [uuid for uuid, _ in stored]
    with connections[moved].cursor() as cursor:  # and it adopted this cluster's identifier
        cursor.execute(
            "SELECT s.system_identifier = c.system_identifier "
            "FROM eventhex_position_shift s, pg_control_system() c"
        )
        (adopted,) = cursor.fetchone()
    assert adopted


def test_the_upstream_importer_on_a_moved_database_stamps_rebased_positions(
    clusters: tuple[ThrowawayPostgres, ThrowawayPostgres], tmp_path: Path
) -> None:
    old, new = clusters
    create_database(old, "ledger")
    migrated = run_example(["examples/ledger/manage.py", "migrate"], old.server.dsn("ledger"))
    assert migrated.returncode == 0, migrated.stderr
    dump(old, "ledger", tmp_path / "ledger.dump")
    restore(new, tmp_path / "ledger.dump", "ledger_moved")

    done = run_example([UPSTREAM_SCRIPT], new.server.dsn("ledger_moved"))

    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    stored = {uuid: (tx_id, pk) for uuid, (tx_id, pk) in result["stored"].items()}
    imported_tx_id = int(result["command"].split("carry tx_id ")[1].split(";")[0])
    assert imported_tx_id >= 1 << 32  # the import's first insert rebased the moved store
    assert sorted(tx for tx, _ in stored.values())[:3] == [imported_tx_id] * 3
    assert result["outbox_positions"] == {
        uuid: (stored[uuid][0] << 64) | stored[uuid][1] for uuid in result["outbox_positions"]
    }
