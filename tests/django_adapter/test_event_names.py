"""Stored event names, the classes that read them, and orphans: command, check and query."""

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from event_sourcery import StreamId

from eventhex_core_ports.testing.events import (
    ContractItemAdded,
    ContractItemRemoved,
    ContractOrderCreated,
    ContractOrderPlaced,
)
from eventhex_core_ports.upcasting import Upcasters
from eventhex_django_adapter.checks import check_event_names
from eventhex_django_adapter.event_names import (
    StoredEventName,
    event_names,
    orphaned_event_names,
    stored_event_names,
)
from eventhex_django_adapter.models import Event

from .conftest import backend_on

pytestmark = pytest.mark.django_db(databases="__all__")


def _store_with_an_orphan(alias: str) -> None:
    store = backend_on(alias).event_store
    store.append(ContractItemAdded(item="a"), ContractItemAdded(item="b"), stream_id=StreamId())
    store.append(ContractItemRemoved(item="a"), stream_id=StreamId(name="names-test"))
    renamed = Event.objects.using(alias).filter(name="eventhex.contract.ItemRemoved")
    assert renamed.update(name="shop.Gone") == 1  # as a class renamed without __event_name__


def _command(*args: str) -> tuple[str, CommandError | None]:
    out = io.StringIO()
    try:
        call_command("eventhex_event_names", *args, stdout=out)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


def test_the_command_lists_names_with_their_classes_and_exits_2_on_orphans(alias: str) -> None:
    _store_with_an_orphan(alias)

    shown, error = _command("--database", alias, "--json")
    rows = {row["name"]: row["class"] for row in json.loads(shown)}
    assert rows["eventhex.contract.ItemAdded"] == (
        "eventhex_core_ports.testing.events.ContractItemAdded"
    )
    assert rows["shop.Gone"] is None
    assert error is not None
    assert error.returncode == 2
    assert "shop.Gone" in str(error)
    assert "__event_name__" in str(error)

    text, _ = _command("--database", alias, "--orphans")
    assert [line.split(maxsplit=1) for line in text.splitlines()] == [
        [name, "(no class)"] for name in orphaned_event_names(alias)
    ]
    assert "shop.Gone" in text.split()
    assert "eventhex.contract.ItemAdded" not in text


def test_no_orphans_exits_0(alias: str) -> None:
    backend_on(alias).event_store.append(ContractItemAdded(item="a"), stream_id=StreamId())
    Event.objects.using(alias).exclude(name__startswith="eventhex.contract.").delete()

    shown, error = _command("--database", alias)
    assert error is None
    assert "eventhex.contract.ItemAdded" in shown


def test_the_check_warns_about_orphans_only_when_databases_are_checked(alias: str) -> None:
    _store_with_an_orphan(alias)

    (warning,) = check_event_names(databases=[alias])
    assert warning.id == "eventhex.W301"
    assert "'shop.Gone'" in warning.msg
    assert f"eventhex_event_names --orphans --database {alias}" in str(warning.hint)
    assert check_event_names(databases=None) == []  # `manage.py check` without --database


def test_an_import_that_fails_is_named(alias: str) -> None:
    with pytest.raises(CommandError, match="--import: No module named 'shop_nowhere'"):
        call_command("eventhex_event_names", "--database", alias, "--import", "shop_nowhere")


@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"])
def test_the_loose_index_scan_finds_what_distinct_finds() -> None:
    _store_with_an_orphan("postgres")
    with connections["postgres"].cursor() as cursor:
        cursor.execute(
            "INSERT INTO eventhex_event (stream_id, version, uuid, name, data, context, "
            "created_at, category, tenant_id, tx_id) "
            "SELECT e.stream_id, NULL, gen_random_uuid(), 'bulk.' || (n % 37), '{}', '{}', "
            "now(), e.category, e.tenant_id, e.tx_id "
            "FROM generate_series(1, 5000) AS n, (SELECT * FROM eventhex_event LIMIT 1) AS e"
        )
        cursor.execute("SELECT DISTINCT name FROM eventhex_event")
        distinct: list[Any] = sorted(row[0] for row in cursor.fetchall())
    assert stored_event_names("postgres") == distinct
    assert len(distinct) >= 37 + 2


def _renamed(*steps: int) -> Upcasters:
    """The upcasting contract's rename, with upcasters from ``steps``."""
    registry = Upcasters()
    registry.rename(ContractOrderCreated.__event_name__, ContractOrderPlaced.__event_name__)
    for step in steps:
        registry.add_upcaster(ContractOrderPlaced.__event_name__, step, dict)
    return registry


def _entry(alias: str, upcasters: Upcasters) -> StoredEventName:
    found = {entry.name: entry for entry in event_names(alias, upcasters=upcasters)}
    return found[ContractOrderCreated.__event_name__]


def test_a_renamed_name_is_read_as_the_class_of_its_new_name(alias: str) -> None:
    backend_on(alias).event_store.append(ContractOrderCreated(product="a"), stream_id=StreamId())

    entry = _entry(alias, _renamed(1, 2))

    assert entry.read_as == ContractOrderPlaced.__event_name__
    assert entry.event_class == "eventhex_core_ports.testing.events.ContractOrderPlaced"
    assert entry.readable
    assert ContractOrderCreated.__event_name__ not in orphaned_event_names(
        alias, upcasters=_renamed(1, 2)
    )
    unrenamed = _entry(alias, Upcasters())
    assert (unrenamed.read_as, unrenamed.event_class) == (
        None,
        "eventhex_core_ports.testing.events.ContractOrderCreated",
    )


def test_stored_versions_without_a_chain_of_upcasters_are_orphans(alias: str) -> None:
    backend_on(alias).event_store.append(ContractOrderCreated(product="a"), stream_id=StreamId())

    entry = _entry(alias, _renamed(2))

    assert entry.missing_upcasters == (1,)
    assert not entry.readable
    assert ContractOrderCreated.__event_name__ in orphaned_event_names(alias, upcasters=_renamed(2))


def test_a_gap_below_every_stored_version_is_not_reported(alias: str) -> None:
    """Events stored at version 3 need no upcaster from 1 or 2."""
    registry = _renamed()
    backend = backend_on(alias)
    backend[Upcasters] = registry
    backend.event_store.append(ContractOrderPlaced(item="a", quantity=1), stream_id=StreamId())

    found = {entry.name: entry for entry in event_names(alias, upcasters=registry)}
    entry = found[ContractOrderPlaced.__event_name__]
    assert (entry.missing_upcasters, entry.readable) == ((), True)


def test_the_command_shows_renames_and_exits_2_naming_a_missing_upcaster(
    alias: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eventhex_django_adapter import event_names as module

    backend_on(alias).event_store.append(ContractOrderCreated(product="a"), stream_id=StreamId())
    Event.objects.using(alias).exclude(name__startswith="eventhex.contract.").delete()
    monkeypatch.setattr(module, "default_upcasters", _renamed(2))  # what the app registered

    shown, error = _command("--database", alias, "--orphans")

    old, new = ContractOrderCreated.__event_name__, ContractOrderPlaced.__event_name__
    assert shown.split() == [
        old,
        "eventhex_core_ports.testing.events.ContractOrderPlaced",
        "(renamed",
        "to",
        f"{new})",
        "(no",
        "upcaster",
        "from",
        "version",
        "1)",
    ]
    assert error is not None
    assert error.returncode == 2
    assert f"{new} from version(s) 1" in str(error)
