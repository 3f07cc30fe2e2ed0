"""The admin lists, searches and shows the event store, and never changes it."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from event_sourcery import StreamId
from event_sourcery.event import WrappedEvent

from eventhex_core_ports.testing.events import ContractItemAdded, ContractSnapshot
from eventhex_django_adapter.models import Event, OutboxEntry, Snapshot, Stream

from .conftest import backend_on

pytestmark = pytest.mark.django_db(databases=["default"])

MODELS = [Stream, Event, Snapshot, OutboxEntry]


@pytest.fixture
def admin_client() -> Client:
    user = User.objects.create_superuser("admin", "admin@example.com", "secret")
    client = Client()
    client.force_login(user)
    backend = backend_on("default").with_outbox()
    stream = StreamId(name="order-42", category="order")
    backend.event_store.append(ContractItemAdded(item="tea"), stream_id=stream)
    backend.event_store.save_snapshot(
        stream, WrappedEvent(event=ContractSnapshot(items=["tea"]), version=1)
    )
    return client


def _url(model: type, view: str, *args: object) -> str:
    return reverse(f"admin:eventhex_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_table_lists_and_shows_read_only(admin_client: Client, model: type) -> None:
    row = model.objects.get()  # type: ignore[attr-defined]

    listing = admin_client.get(_url(model, "changelist"))
    detail = admin_client.get(_url(model, "change", row.pk))

    assert listing.status_code == 200
    assert detail.status_code == 200
    assert _url(model, "add") not in listing.content.decode()
    assert b'name="_save"' not in detail.content
    assert detail.context["title"].startswith("View")
    assert admin_client.get(_url(model, "add")).status_code == 403
    assert admin_client.post(_url(model, "delete", row.pk), {"post": "yes"}).status_code == 403
    assert model.objects.count() == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("model", "query", "hits"),
    [
        (Stream, "order-42", 1),
        (Stream, "order", 1),
        (Stream, "invoice", 0),
        (Event, "order-42", 1),
        (Event, "ItemAdded", 1),
        (Event, "Removed", 0),
        (Snapshot, "order-42", 1),
        (OutboxEntry, "order", 1),
        (OutboxEntry, "ItemAdded", 1),
        (OutboxEntry, "invoice", 0),
    ],
)
def test_search_by_stream_name_category_and_event_name(
    admin_client: Client, model: type, query: str, hits: int
) -> None:
    response = admin_client.get(_url(model, "changelist"), {"q": query})

    assert response.status_code == 200
    assert response.context["cl"].result_count == hits
