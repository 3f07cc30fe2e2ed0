"""Crypto-shredding reaches every copy eventhex keeps of a failure (issue 27, ADR 0017).

The issue's repro on PostgreSQL: a projection writes a subscriber's (decrypted) e-mail into a
unique column; a second subscriber with the same e-mail fails the handler with an
``IntegrityError`` whose DETAIL quotes the e-mail. The event is parked, the projection stops
with ``last_error``. An in-process outbox publisher fails too, quoting the e-mail, until the
entry is a dead letter. After the subject's key is deleted, none of what eventhex shows (parked
list, status, admin pages, the outbox's error column, the relay's dead-letter list) and none
of what it logs carries the e-mail.
"""

import io
import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from event_sourcery import StreamId
from event_sourcery.event import Recorded

from eventhex_django_adapter import DjangoBackend, DjangoConfig, DjangoKeyStorage
from eventhex_django_adapter._failure_text import WITHHELD
from eventhex_django_adapter.models import OutboxEntry
from eventhex_django_adapter.projections import (
    load_projections,
    projection_statuses,
    retry_parked,
)
from eventhex_django_adapter.projections.models import ParkedEvent, ProjectionState
from eventhex_outbox_relay.cli import main as relay
from tests.django_adapter.projections.conftest import running
from tests.projection_app.backends import XorCipher, encrypting_backend
from tests.projection_app.models import Subscriber
from tests.projection_app.projections import SubscriberJoined
from tests.reliability._report import report
from tests.waiting import wait_for

pytestmark = [pytest.mark.django_db(databases="__all__", transaction=True), pytest.mark.postgres]

ALIAS = "postgres"
EMAIL = "alice@example.com"


class _ProjectionsOnPostgres:
    """Sends the admin's queries of these tables to PostgreSQL (its users stay in
    ``default``)."""

    def db_for_read(self, model: type, **hints: Any) -> str | None:
        return ALIAS if model in (ParkedEvent, ProjectionState, OutboxEntry) else None

    db_for_write = db_for_read


@pytest.fixture(autouse=True)
def _subscribers_on_postgres(settings: Any) -> None:
    settings.EVENTHEX_PROJECTIONS = ["tests.projection_app.projections.Subscribers"]
    settings.EVENTHEX_TEST_PROJECTION_DATABASE = ALIAS
    settings.EVENTHEX_PROJECTIONS_BACKEND = "tests.projection_app.backends.encrypting_backend"
    settings.DATABASE_ROUTERS = [f"{__name__}._ProjectionsOnPostgres"]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    return caplog


def _parked() -> list[ParkedEvent]:
    return list(ParkedEvent.objects.using(ALIAS).filter(status="parked"))


def _command(*args: str) -> str:
    """What the command printed; ``status`` exits non-zero here (the projection is stopped)."""
    out = io.StringIO()
    try:
        call_command("eventhex_projections", *args, stdout=out)
    except CommandError:
        if args[0] != "status":
            raise
    return out.getvalue()


def _relay(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = relay([*args, "--source", "django", "--source-option", f"database={ALIAS}"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out + captured.err


def _admin_pages() -> str:
    user = User.objects.create_superuser("shredder", "shredder@example.org", "secret")
    client = Client()
    client.force_login(user)
    parked = ParkedEvent.objects.using(ALIAS).get()
    state = ProjectionState.objects.using(ALIAS).get(name="test.subscribers")
    entry = OutboxEntry.objects.using(ALIAS).get()
    pages = []
    for url in (
        reverse("admin:eventhex_projections_parkedevent_changelist"),
        reverse("admin:eventhex_projections_parkedevent_change", args=[parked.pk]),
        reverse("admin:eventhex_projections_projectionstate_changelist"),
        reverse("admin:eventhex_projections_projectionstate_change", args=[state.pk]),
        reverse("admin:eventhex_outboxentry_changelist"),
        reverse("admin:eventhex_outboxentry_change", args=[entry.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        pages.append(response.content.decode())
    return "\n".join(pages)


def _fail_to_publish(record: Recorded) -> None:
    event = record.wrapped_event.event
    assert isinstance(event, SubscriberJoined)
    raise ConnectionError(f"the mail service refused {event.email}")


def test_after_the_key_is_deleted_no_copy_of_a_failure_shows_the_plaintext(
    logs: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    report.tried("shredding: a failure quoting decrypted data")
    keys = DjangoKeyStorage(database=ALIAS)
    keys.store("alice", os.urandom(32))
    backend = encrypting_backend()
    outboxed = (
        DjangoBackend()
        .configure(DjangoConfig(database=ALIAS, outbox_attempts=1))
        .with_encryption(XorCipher(), keys)
        .with_outbox()
    )
    backend.event_store.append(
        SubscriberJoined(subject="alice", email=EMAIL), stream_id=StreamId(name="subscriber-1")
    )
    outboxed.event_store.append(
        SubscriberJoined(subject="alice", email=EMAIL), stream_id=StreamId(name="subscriber-2")
    )

    projections = load_projections(["test.subscribers"])
    with running(backend, projections):
        wait_for(lambda: len(_parked()) == 1, "the duplicate e-mail to be parked")
    outboxed.outbox.run(_fail_to_publish)

    # The failures did carry the plaintext: the read model has it, the database quoted it.
    assert list(Subscriber.objects.using(ALIAS).values_list("email", flat=True)) == [EMAIL]
    (parked,) = _parked()
    assert "IntegrityError" in parked.error
    assert "SQLSTATE 23505" in parked.error
    assert 'constraint "projection_app_subscriber_email_key"' in parked.error
    (status,) = projection_statuses(backend, projections)
    assert status.state == "stopped"
    assert status.last_error == parked.error
    retried = retry_parked(backend, projections[0], parked.pk)  # fails again: key still there
    assert not retried.ok
    assert "IntegrityError" in retried.detail
    assert EMAIL not in retried.detail + ParkedEvent.objects.using(ALIAS).get().error
    entry = OutboxEntry.objects.using(ALIAS).get()
    assert entry.dead
    assert entry.last_error == f"ConnectionError: {WITHHELD}"

    keys.delete("alice")
    (shredded,) = backend.event_store.load_stream(StreamId(name="subscriber-1"))
    assert shredded.event.email == "[shredded]"

    shown = {
        "parked list": _command("parked", "list"),
        "parked list --json": _command("parked", "list", "--json"),
        "status --json": _command("status", "--json"),
        "status": _command("status"),
        "admin": _admin_pages(),
        "stored parked error": ParkedEvent.objects.using(ALIAS).get().error,
        "stored last_error": ProjectionState.objects.using(ALIAS).get().last_error,
        "outbox last_error": OutboxEntry.objects.using(ALIAS).get().last_error,
        "relay dead-letters list": _relay(capsys, "dead-letters", "list", "--json"),
        "relay status": _relay(capsys, "status"),
    }
    assert "IntegrityError" in shown["parked list"]  # the failure is still explained
    assert json.loads(shown["status --json"])  # and the JSON is whole
    # After the key is gone, what runs next logs nothing of it either: a retry (now with the
    # masked e-mail, which succeeds) and the relay delivering the replayed dead letter.
    _command("parked", "retry", "--all")
    shown["relay replay and drain"] = _relay(capsys, "dead-letters", "replay", "--all") + _relay(
        capsys, "drain", "--poll-interval", "0.01"
    )
    shown["logs"] = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''} {vars(r)}" for r in logs.records
    )

    assert {where: EMAIL in text for where, text in shown.items()} == dict.fromkeys(shown, False)
    assert _parked() == []
    assert sorted(Subscriber.objects.using(ALIAS).values_list("email", flat=True)) == [
        "[shredded]",
        EMAIL,
    ]
    report.handled("shredding: a failure quoting decrypted data")
