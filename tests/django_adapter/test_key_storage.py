"""Encryption keys in another database than the events (``KeyStorageContract`` in
``test_contract.py`` holds the key storage itself to the port's rules)."""

import json
import os
from typing import Annotated
from uuid import uuid4

import pytest
from event_sourcery import Event, StreamId
from event_sourcery.encryption import DataSubject, Encrypted

from eventhex_django_adapter import DjangoKeyStorage
from eventhex_django_adapter.models import EncryptionKey
from eventhex_django_adapter.models import Event as EventRow
from tests.projection_app.backends import XorCipher

from .conftest import backend_on


class Confided(Event):
    """An event with a field encrypted per data subject."""

    __event_name__ = "eventhex.tests.Confided"

    subject: Annotated[str, DataSubject]
    secret: Annotated[str, Encrypted(mask_value="[shredded]")]


@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
@pytest.mark.postgres
def test_keys_can_live_in_another_database_than_the_events() -> None:
    keys = DjangoKeyStorage(database="default")
    backend = backend_on("postgres").with_encryption(XorCipher(), keys)
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
