"""The admin lists, searches, filters and shows the event store, and never changes it; on
SQLite and on PostgreSQL (the admin reads the store's database through a router)."""

import re
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from django.contrib.auth.models import User
from django.db import connections
from django.test import Client, override_settings
from django.urls import reverse
from event_sourcery import StreamId
from event_sourcery.event import WrappedEvent

from eventhex_core_ports.testing.events import (
    ContractItemAdded,
    ContractItemRemoved,
    ContractSnapshot,
)
from eventhex_django_adapter import _admin_lists
from eventhex_django_adapter._admin_json import shown_json
from eventhex_django_adapter._codec import encode_position, format_position
from eventhex_django_adapter.admin import EventAdmin
from eventhex_django_adapter.models import Event, OutboxEntry, Snapshot, Stream
from eventhex_django_adapter.projections.models import ParkedEvent, ProjectionState

from .conftest import backend_on
from .test_undecodable_rows import damage, overwrite_json

pytestmark = pytest.mark.django_db(databases="__all__")

MODELS = [Stream, Event, Snapshot, OutboxEntry]
ADDED = "eventhex.contract.ItemAdded"
REMOVED = "eventhex.contract.ItemRemoved"


class _StoreOn:
    """Routes the event store's models (and the projections') to one database alias."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def _route(self, model: type, **hints: Any) -> str | None:
        return self.alias if model._meta.app_label.startswith("eventhex") else None  # type: ignore[attr-defined]

    db_for_read = db_for_write = _route


@pytest.fixture
def store(alias: str) -> Iterator[str]:
    """The event store's alias, which the admin and the projections read (SQLite, then
    PostgreSQL)."""
    with override_settings(
        DATABASE_ROUTERS=[_StoreOn(alias)],
        EVENTHEX_PROJECTIONS_BACKEND="tests.projection_app.backends.projections_backend",
        EVENTHEX_TEST_PROJECTION_DATABASE=alias,
    ):
        yield alias


@pytest.fixture
def admin_client(store: str) -> Client:
    user = User.objects.create_superuser("admin", "admin@example.com", "secret")
    client = Client()
    client.force_login(user)
    backend = backend_on(store).with_outbox()
    stream = StreamId(name="order-42", category="order")
    backend.event_store.append(ContractItemAdded(item="tea"), stream_id=stream)
    backend.event_store.save_snapshot(
        stream, WrappedEvent(event=ContractSnapshot(items=["tea"]), version=1)
    )
    return client


def _url(model: type, view: str, *args: object) -> str:
    opts = model._meta  # type: ignore[attr-defined]
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def _found(client: Client, model: type, **params: str) -> list[Any]:
    response = client.get(_url(model, "changelist"), params)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_table_lists_and_shows_read_only(
    admin_client: Client, store: str, model: type
) -> None:
    row = model.objects.using(store).get()  # type: ignore[attr-defined]

    listing = admin_client.get(_url(model, "changelist"))
    detail = admin_client.get(_url(model, "change", row.pk))

    assert listing.status_code == 200
    assert detail.status_code == 200
    assert _url(model, "add") not in listing.content.decode()
    assert b'name="_save"' not in detail.content
    assert detail.context["title"].startswith("View")
    assert admin_client.get(_url(model, "add")).status_code == 403
    assert admin_client.post(_url(model, "delete", row.pk), {"post": "yes"}).status_code == 403
    assert model.objects.using(store).count() == 1  # type: ignore[attr-defined]


def _second_stream(store: str) -> StreamId:
    stream = StreamId(name="invoice-7", category="invoice")
    backend_on(store).with_outbox().event_store.append(
        ContractItemAdded(item="ink"), ContractItemRemoved(item="ink"), stream_id=stream
    )
    return stream


@pytest.mark.parametrize(
    ("query", "hits"),
    [
        ("order-42", {"tea"}),  # a stream's name
        ("order-4", {"tea"}),  # the start of it
        ("invoice", {"ink+", "ink-"}),  # a category
        (REMOVED, {"ink-"}),  # an event name
        ("ItemRemoved", set()),  # names are matched whole
        ("rder-42", set()),  # stream names by their start only
        ("nothing", set()),
    ],
)
def test_events_are_found_by_stream_name_category_and_event_name(
    admin_client: Client, store: str, query: str, hits: set[str]
) -> None:
    _second_stream(store)

    found = _found(admin_client, Event, q=query)

    signs = {ADDED: "+", REMOVED: "-"}
    assert {e.data["item"] + ("" if e.data["item"] == "tea" else signs[e.name]) for e in found} == (
        hits
    )


def test_events_are_found_by_their_uuid_and_their_streams_uuid(
    admin_client: Client, store: str
) -> None:
    _second_stream(store)
    removed = Event.objects.using(store).get(name=REMOVED)
    invoice = Stream.objects.using(store).get(name="invoice-7")

    by_event = _found(admin_client, Event, q=f"  {removed.uuid}  ")
    by_stream = _found(admin_client, Event, q=str(invoice.uuid))
    by_unknown = _found(admin_client, Event, q=str(uuid4()))

    assert [e.pk for e in by_event] == [removed.pk]
    assert {e.name for e in by_stream} == {ADDED, REMOVED}
    assert by_unknown == []


@pytest.mark.parametrize(
    ("model", "query", "hits"),
    [
        (Stream, "order-42", 1),
        (Stream, "order", 1),
        (Stream, "invoice", 0),
        (Snapshot, "order-42", 1),
        (Snapshot, "invoice", 0),
        (OutboxEntry, "order", 1),
        (OutboxEntry, ADDED, 1),
        (OutboxEntry, "order-42", 1),
        (OutboxEntry, "invoice", 0),
    ],
)
def test_streams_snapshots_and_outbox_are_searched_by_exact_values(
    admin_client: Client, model: type, query: str, hits: int
) -> None:
    assert len(_found(admin_client, model, q=query)) == hits


def test_streams_snapshots_and_outbox_are_found_by_uuid(admin_client: Client, store: str) -> None:
    stream = Stream.objects.using(store).get()
    snapshot = Snapshot.objects.using(store).get()
    entry = OutboxEntry.objects.using(store).get()

    assert _found(admin_client, Stream, q=str(stream.uuid)) == [stream]
    assert _found(admin_client, Snapshot, q=str(snapshot.uuid)) == [snapshot]
    assert _found(admin_client, Snapshot, q=str(stream.uuid)) == [snapshot]
    assert _found(admin_client, OutboxEntry, q=str(entry.event_uuid)) == [entry]
    assert _found(admin_client, Stream, q=str(uuid4())) == []


def test_events_are_filtered_by_category_and_event_name(admin_client: Client, store: str) -> None:
    _second_stream(store)

    response = admin_client.get(_url(Event, "changelist"))
    by_category = _found(admin_client, Event, category__exact="invoice")
    by_name = _found(admin_client, Event, name__exact=REMOVED)
    both = _found(admin_client, Event, category__exact="order", name__exact=REMOVED)

    specs = response.context["cl"].filter_specs
    choices = {spec.title: [value for value, _ in spec.lookup_choices] for spec in specs}
    assert choices == {"category": ["invoice", "order"], "event name": [ADDED, REMOVED]}
    assert sorted(e.category for e in by_category) == ["invoice", "invoice"]
    assert [e.name for e in by_name] == [REMOVED]
    assert both == []


def test_streams_are_filtered_by_category(admin_client: Client, store: str) -> None:
    _second_stream(store)

    assert [s.name for s in _found(admin_client, Stream, category__exact="invoice")] == [
        "invoice-7"
    ]


def test_the_events_list_shows_positions_as_people_read_them(
    admin_client: Client, store: str
) -> None:
    event = Event.objects.using(store).get()

    page = admin_client.get(_url(Event, "changelist")).content.decode()

    shown = format_position(encode_position(event.tx_id, event.id))
    assert f'<td class="field-position">{shown}</td>' in page
    assert (":" in shown) is (connections[store].vendor == "postgresql")


@pytest.fixture
def long_list(admin_client: Client, store: str, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """30 events in pages of 2, the first and the last 3 pages offered, counts exact up to 5
    (the admin's limits, made small); returns the event ids, newest first."""
    backend = backend_on(store)
    for number in range(29):
        backend.event_store.append(
            ContractItemAdded(item=f"i{number}"), stream_id=StreamId(name=f"cart-{number}")
        )
    monkeypatch.setattr(EventAdmin, "list_per_page", 2)
    monkeypatch.setattr(_admin_lists, "EXACT_COUNT", 5)
    monkeypatch.setattr(_admin_lists, "EDGE_ROWS", 6)
    if connections[store].vendor == "postgresql":
        with connections[store].cursor() as cursor:
            cursor.execute("ANALYZE eventhex_event")  # what the estimate reads
    return list(Event.objects.using(store).order_by("-id").values_list("id", flat=True))


def test_long_lists_offer_their_first_and_last_pages_and_say_what_they_skip(
    admin_client: Client, store: str, long_list: list[int]
) -> None:
    url = _url(Event, "changelist")

    first = admin_client.get(url)
    last = admin_client.get(url, {"p": "15"})
    near_last = admin_client.get(url, {"p": "13"})
    middle = admin_client.get(url, {"p": "8"}, follow=True)

    cl = first.context["cl"]
    assert cl.result_count == 30
    assert [e.id for e in cl.result_list] == long_list[:2]
    assert [e.id for e in last.context["cl"].result_list] == long_list[28:]
    assert [e.id for e in near_last.context["cl"].result_list] == long_list[24:26]
    assert list(cl.paginator.get_elided_page_range(1)) == [1, 2, 3, "…", 14, 15]
    assert list(cl.paginator.get_elided_page_range(3)) == [1, 2, 3, "…", 14, 15]
    assert middle.redirect_chain[0][0].endswith("?e=1")
    assert "Page 8 is not shown" in middle.content.decode()
    assert [e.id for e in middle.context["cl"].result_list] == long_list[:2]
    note = "Only the first and the last 3 pages are offered"
    assert note in re.sub(r"\s+", " ", first.content.decode())
    estimated = connections[store].vendor == "postgresql"
    assert cl.paginator.estimated is estimated
    assert ("The count is the database's estimate" in first.content.decode()) is estimated


def test_filtered_lists_count_and_page_the_same_way(
    admin_client: Client, store: str, long_list: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_admin_lists, "EXACT_COUNT", 20)  # counted, not estimated

    response = admin_client.get(_url(Event, "changelist"), {"q": "cart-1", "p": "6"})

    cl = response.context["cl"]
    streams = {f"cart-{n}" for n in [1, *range(10, 20)]}  # names starting with cart-1
    assert cl.result_count == len(streams)
    assert cl.paginator.num_pages == 6
    assert [e.stream.name for e in cl.result_list] == ["cart-1"]  # the oldest of them


@pytest.fixture
def parked(admin_client: Client, store: str) -> ParkedEvent:
    event = Event.objects.using(store).select_related("stream").get()
    projection = ProjectionState.objects.using(store).create(name="test.all", position=7)
    return ParkedEvent.objects.using(store).create(
        projection=projection,
        event_uuid=event.uuid,
        event_name=event.name,
        stream_uuid=event.stream.uuid,
        stream_name=event.stream.name,
        version=1,
        position=encode_position(5, 9) if connections[store].vendor == "postgresql" else 9,
        previous_position=0,
        error='Traceback (most recent call last):\n  File "app.py"\nValueError: <b>bad</b> & x',
        attempts=3,
    )


def test_a_parked_event_opens_read_only_with_its_traceback_formatted(
    admin_client: Client, parked: ParkedEvent, store: str
) -> None:
    page = admin_client.get(_url(ParkedEvent, "change", parked.pk))
    saved = admin_client.post(_url(ParkedEvent, "change", parked.pk), {"attempts": "0"})

    html = page.content.decode()
    assert page.context["title"] == "View parked event"
    assert 'name="_save"' not in html
    assert (
        '<pre class="eventhex-traceback">Traceback (most recent call last):\n  File '
        "&quot;app.py&quot;\nValueError: &lt;b&gt;bad&lt;/b&gt; &amp; x</pre>"
    ) in html
    shown = "5:9" if connections[store].vendor == "postgresql" else "9"
    assert f'<div class="readonly">{shown}</div>' in html
    assert saved.status_code == 403
    assert ParkedEvent.objects.using(store).get().attempts == 3


def test_parked_events_are_still_retried_and_skipped_from_their_list(
    admin_client: Client, parked: ParkedEvent, store: str
) -> None:
    listing = admin_client.get(_url(ParkedEvent, "changelist"))

    actions = [name for name, _ in listing.context["action_form"].fields["action"].choices]
    assert {"retry", "skip"} <= set(actions)
    response = admin_client.post(
        _url(ParkedEvent, "changelist"),
        {"action": "skip", "_selected_action": [parked.pk], "index": "0"},
        follow=True,
    )
    assert "1 parked event(s) skipped." in response.content.decode()
    assert ParkedEvent.objects.using(store).get().status == ParkedEvent.Status.SKIPPED


@override_settings(
    EVENTHEX_PROJECTIONS=[
        "tests.projection_app.projections.AllEvents",
        "tests.projection_app.projections.Removals",
    ]
)
def test_the_projections_page_shows_lag_from_the_checkpoint(
    admin_client: Client, store: str
) -> None:
    backend = backend_on(store)
    backend.event_store.append(
        ContractItemAdded(item="a"),
        ContractItemAdded(item="b"),
        ContractItemRemoved(item="a"),
        stream_id=StreamId(name="c-1"),
    )
    first = Event.objects.using(store).order_by("id").first()
    assert first is not None
    position = encode_position(first.tx_id, first.id)
    ProjectionState.objects.using(store).create(
        name="test.all", position=position, last_event_uuid=first.uuid
    )

    ProjectionState.objects.using(store).create(name="test.removals")  # nothing applied yet

    response = admin_client.get(_url(ProjectionState, "changelist"))

    assert response.status_code == 200
    cells = re.findall(
        r'<th class="field-name">.*?>([\w.]+)</a></th><td class="field-version">\d+</td>'
        r'<td class="field-shard_shown">[^<]*</td><td class="field-state_shown">[\w ]+</td>'
        r'<td class="field-shown_position">([\d:]+)</td><td class="field-lag">(\d+)</td>',
        response.content.decode(),
    )
    # All events: the three after the checkpoint; removals: the one removal.
    expected = [("test.all", format_position(position), "3"), ("test.removals", "0", "1")]
    assert sorted(cells) == expected


def _stored_key(store: str, row: Any) -> Any:
    """``row``'s primary key as raw SQL on ``store`` takes it (SQLite stores uuids as hex)."""
    return row._meta.pk.get_db_prep_value(row.pk, connections[store])


_JSON_TABLES = {
    Event: "eventhex_event",
    Snapshot: "eventhex_snapshot",
    OutboxEntry: "eventhex_outboxentry",
}


@pytest.mark.parametrize("model", list(_JSON_TABLES), ids=lambda m: m.__name__)
@pytest.mark.parametrize("column", ["data", "context"])
def test_a_row_nested_too_deeply_lists_and_opens_showing_its_json_as_stored(
    admin_client: Client, store: str, model: type, column: str
) -> None:
    row = model.objects.using(store).get()  # type: ignore[attr-defined]
    damage(store, _JSON_TABLES[model], column, _stored_key(store, row), key=row._meta.pk.column)

    listing = admin_client.get(_url(model, "changelist"))
    detail = admin_client.get(_url(model, "change", row.pk))

    assert listing.status_code == 200
    assert detail.status_code == 200
    html = detail.content.decode()
    assert "Nested too deeply to decode; shown as stored." in html
    assert "[[[[[[[[" in html  # the stored text, shown as it is


@pytest.mark.parametrize("model", list(_JSON_TABLES), ids=lambda m: m.__name__)
def test_a_rows_page_shows_its_json_indented_and_escaped(
    admin_client: Client, store: str, model: type
) -> None:
    row = model.objects.using(store).get()  # type: ignore[attr-defined]
    overwrite_json(
        store,
        _JSON_TABLES[model],
        "data",
        _stored_key(store, row),
        '{"item": "<script>alert(1)</script>"}',
        key=row._meta.pk.column,
    )

    html = admin_client.get(_url(model, "change", row.pk)).content.decode()

    assert (
        '<pre class="eventhex-json">{\n  &quot;item&quot;: '
        "&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;\n}</pre>"
    ) in html
    assert "<script>alert(1)" not in html
    assert "&quot;causation_id&quot;: null" in html  # the context, indented too


def test_stored_text_that_is_not_json_is_shown_as_stored_and_escaped() -> None:
    shown = shown_json('{"item": <b>')

    assert shown == (
        '<p class="help">Not valid JSON; shown as stored.</p>'
        '<pre class="eventhex-json">{&quot;item&quot;: &lt;b&gt;</pre>'
    )
    assert shown_json(None) == '<pre class="eventhex-json">null</pre>'
