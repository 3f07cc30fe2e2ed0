"""Outbox rows, encryption keys and projection cursors on both databases."""

import json
import os
import threading
from typing import Annotated, Any
from uuid import uuid4

import pytest
from django.db import connections
from event_sourcery import Event, StreamId
from event_sourcery.encryption import DataSubject, Encrypted
from event_sourcery.event import Recorded
from event_sourcery.interfaces import EncryptionStrategy
from event_sourcery.read_model import CursorsDao

from eventhex_core_ports.testing.events import ContractItemAdded
from eventhex_django_adapter import DjangoCursorsDao, DjangoKeyStorage
from eventhex_django_adapter.models import EncryptionKey, OutboxEntry
from eventhex_django_adapter.models import Event as EventRow

from .conftest import backend_on

pytestmark = pytest.mark.django_db(databases="__all__")


def test_outbox_rows_are_written_with_the_append(alias: str) -> None:
    backend = backend_on(alias, outbox_attempts=2).with_outbox()
    stream = StreamId(name="outboxed", category="orders")
    backend.event_store.append(
        ContractItemAdded(item="a"), ContractItemAdded(item="b"), stream_id=stream
    )

    rows = list(OutboxEntry.objects.using(alias).filter(stream_uuid=stream).order_by("id"))

    assert [(r.version, r.stream_name, r.stream_category, r.max_attempts) for r in rows] == [
        (1, "outboxed", "orders", 2),
        (2, "outboxed", "orders", 2),
    ]
    assert rows[0].position < rows[1].position


def test_failed_publishing_is_recorded_and_the_entry_dies(alias: str) -> None:
    backend = backend_on(alias, outbox_attempts=2).with_outbox()
    stream = StreamId()
    backend.event_store.append(ContractItemAdded(item="a"), stream_id=stream)

    def fail(record: Recorded) -> None:
        raise ConnectionError("broker down")

    backend.outbox.run(fail)
    entry = OutboxEntry.objects.using(alias).get(stream_uuid=stream)
    assert (entry.attempts, entry.dead, entry.last_error) == (
        1,
        False,
        "ConnectionError: broker down",
    )
    backend.outbox.run(fail)
    entry.refresh_from_db()
    assert (entry.attempts, entry.dead) == (2, True)

    published: list[Recorded] = []
    backend.outbox.run(published.append)
    assert published == []  # dead entries stay for an operator, unpublished


def test_published_entries_are_deleted_and_carry_the_record(alias: str) -> None:
    backend = backend_on(alias).with_outbox()
    stream = StreamId(category="orders")
    backend.in_tenant_mode("t1").event_store.append(ContractItemAdded(item="a"), stream_id=stream)
    published: list[Recorded] = []

    backend.outbox.run(published.append)

    (record,) = published
    assert (record.stream_id, record.tenant_id) == (stream, "t1")
    assert record.wrapped_event.event == ContractItemAdded(item="a")
    assert not OutboxEntry.objects.using(alias).filter(stream_uuid=stream).exists()


def test_keys_are_kept_per_tenant_and_can_be_shredded(alias: str) -> None:
    keys = DjangoKeyStorage(database=alias)
    tenant = keys.scoped_for_tenant("t1")
    keys.store("alice", b"\x00default")
    tenant.store("alice", b"\x01tenant")
    tenant.store("alice", b"\x02replaced")

    assert keys.get("alice") == b"\x00default"
    assert tenant.get("alice") == b"\x02replaced"
    tenant.delete("alice")
    tenant.delete("alice")
    assert tenant.get("alice") is None
    assert keys.get("alice") == b"\x00default"


def test_cursor_moves_one_version_at_a_time(alias: str) -> None:
    cursors = DjangoCursorsDao(database=alias)
    stream = StreamId(category="c")

    with pytest.raises(CursorsDao.StreamNotTracked):
        cursors.increment("projection", stream, 1)
    cursors.put_at("projection", stream, 1)
    cursors.increment("projection", stream, 2)
    with pytest.raises(CursorsDao.AheadOfStream) as ahead:
        cursors.increment("projection", stream, 2)
    assert ahead.value.current_version == 2
    with pytest.raises(CursorsDao.BehindStream) as behind:
        cursors.increment("projection", stream, 5)
    assert behind.value.current_version == 2
    cursors.move_to("projection", stream, 5)
    cursors.increment("projection", stream, 6)
    with pytest.raises(CursorsDao.StreamNotTracked):
        cursors.increment("other-projection", stream, 1)
    with pytest.raises(CursorsDao.StreamNotTracked):
        cursors.increment("projection", StreamId(uuid=stream, category="d"), 7)


@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"], transaction=True)
def test_concurrent_outbox_runs_skip_the_entry_another_run_is_publishing() -> None:
    backend = backend_on("postgres").with_outbox()
    for item in "abc":
        backend.event_store.append(ContractItemAdded(item=item), stream_id=StreamId())
    holding, release = threading.Event(), threading.Event()
    held: list[Recorded] = []

    def publish_slowly(record: Recorded) -> None:
        held.append(record)
        holding.set()
        release.wait(30)

    def first_run() -> None:
        try:
            backend.outbox.run(publish_slowly, limit=1)
        finally:
            connections.close_all()

    runner = threading.Thread(target=first_run)
    runner.start()
    try:
        assert holding.wait(30)
        published: list[Recorded] = []
        backend.outbox.run(published.append)
    finally:
        release.set()
        runner.join(30)

    assert [r.wrapped_event.event.item for r in held] == ["a"]  # type: ignore[attr-defined]
    assert [r.wrapped_event.event.item for r in published] == ["b", "c"]  # type: ignore[attr-defined]
    assert not OutboxEntry.objects.using("postgres").exists()


class _XorStrategy(EncryptionStrategy):
    """A reversible stand-in cipher: the test is about where keys live, not about ciphers."""

    def encrypt(self, data: Any, key: bytes) -> str:
        plain = json.dumps(data).encode()
        return bytes(b ^ key[i % len(key)] for i, b in enumerate(plain)).hex()

    def decrypt(self, data: str, key: bytes) -> Any:
        cipher = bytes.fromhex(data)
        return json.loads(bytes(b ^ key[i % len(key)] for i, b in enumerate(cipher)))


class Confided(Event):
    """An event with a field encrypted per data subject."""

    __event_name__ = "eventhex.tests.Confided"

    subject: Annotated[str, DataSubject]
    secret: Annotated[str, Encrypted(mask_value="[shredded]")]


@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
@pytest.mark.postgres
def test_keys_can_live_in_another_database_than_the_events() -> None:
    keys = DjangoKeyStorage(database="default")
    backend = backend_on("postgres").with_encryption(_XorStrategy(), keys)
    stream = StreamId(name=f"confided-{uuid4().hex}")
    keys.store("alice", os.urandom(32))
    backend.event_store.append(Confided(subject="alice", secret="s3cret"), stream_id=stream)

    assert EncryptionKey.objects.using("default").filter(subject_id="alice").exists()
    assert not EncryptionKey.objects.using("postgres").exists()
    stored = EventRow.objects.using("postgres").get(stream__name=stream.name)
    assert "s3cret" not in json.dumps(stored.data)
    (loaded,) = backend.event_store.load_stream(stream)
    assert loaded.event.secret == "s3cret"

    keys.delete("alice")

    (shredded,) = backend.event_store.load_stream(stream)
    assert shredded.event.secret == "[shredded]"
