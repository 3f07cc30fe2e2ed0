"""The position clock (ADR 0010): how a store tells it has moved, reports it and rebases.

These run on the session's database inside a rolled-back transaction; a move is simulated by
editing what the clock remembers (the cluster it was checked on, or the stored ``tx_id``s).
``tests/reliability/test_database_move.py`` moves a database between two clusters for real.
"""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connections, transaction
from event_sourcery import StreamId

from eventhex_core_ports.testing.events import ContractItemAdded
from eventhex_django_adapter._position_clock import position_clock
from eventhex_django_adapter.checks import check_position_clock
from eventhex_django_adapter.models import Event

from .conftest import backend_on, on_sqlite

PG = "postgres"


def _execute(sql: str) -> None:
    with connections[PG].cursor() as cursor:
        cursor.execute(sql)


def _append(text: str) -> int:
    """Append one event to a new stream; its ``tx_id``."""
    backend_on(PG).event_store.append(ContractItemAdded(item=text), stream_id=StreamId())
    return int(Event.objects.using(PG).order_by("-id").values_list("tx_id", flat=True)[0])


def _read_only(sql: str) -> None:
    with transaction.atomic(using=PG):
        _execute("SET LOCAL transaction_read_only = on")
        _execute(sql)


def _rebase(*args: str) -> str:
    out = StringIO()
    call_command("eventhex_rebase", *args, database=PG, stdout=out)
    return out.getvalue()


@pytest.mark.postgres
@pytest.mark.django_db(databases=[PG])
def test_a_store_on_its_own_cluster_needs_nothing() -> None:
    backend_on(PG)
    clock = position_clock(PG)

    assert clock is not None
    assert clock.shift == 0
    assert clock.stored_system_identifier == clock.system_identifier is not None
    assert not clock.needs_rebase
    assert check_position_clock(databases=[PG]) == []
    assert "positions ok (shift 0)" in _rebase("--check")
    assert "positions ok (shift 0)" in _rebase()


@pytest.mark.postgres
@pytest.mark.django_db(databases=[PG])
def test_a_store_checked_on_another_cluster_is_reported_then_rebased() -> None:
    backend_on(PG)
    before = _append("before")
    _execute("UPDATE eventhex_position_shift SET system_identifier = 42")

    (warning,) = check_position_clock(databases=[PG])
    with pytest.raises(CommandError, match="moved from cluster 42"):
        _rebase("--check")
    status = StringIO()
    call_command("eventhex_status", database=PG, stdout=status)
    rebased = _rebase()
    after = _append("after")

    assert warning.id == "eventhex.W002"
    assert "from cluster 42" in warning.msg
    assert warning.hint == f"Run: python manage.py eventhex_rebase --database {PG}"
    assert "rebase due" in status.getvalue()
    assert "rebased positions (moved from cluster 42" in rebased
    assert after >= before + (1 << 32)
    assert not position_clock(PG).needs_rebase  # type: ignore[union-attr]


@pytest.mark.postgres
@pytest.mark.django_db(databases=[PG])
def test_a_store_behind_its_own_events_rebases_past_them() -> None:
    backend_on(PG)
    _append("from far ahead")
    # events from a cluster far ahead, on a role that cannot read the system identifier
    _execute("UPDATE eventhex_event SET tx_id = tx_id + 1000000000000")
    _execute("UPDATE eventhex_position_shift SET system_identifier = NULL")
    newest = int(Event.objects.using(PG).order_by("-tx_id").values_list("tx_id", flat=True)[0])

    clock = position_clock(PG)
    rebased = _rebase()
    after = _append("after")

    assert clock is not None
    assert clock.behind
    assert not clock.moved
    assert "is not past the largest stored tx_id" in rebased
    assert after >= newest + (1 << 32)


@pytest.mark.postgres
@pytest.mark.django_db(databases=[PG])
def test_a_read_only_transaction_refuses_to_read_with_a_stale_shift() -> None:
    _execute("UPDATE eventhex_position_shift SET system_identifier = 42")
    _execute("SELECT set_config('eventhex.position_shift', '', false)")  # a new session

    with pytest.raises(DatabaseError, match=r"manage\.py eventhex_rebase"):
        _read_only("SELECT eventhex_position_shift()")


@on_sqlite
def test_sqlite_positions_need_no_rebase() -> None:
    out = StringIO()
    call_command("eventhex_rebase", database="default", stdout=out)

    assert "nothing to rebase" in out.getvalue()
    assert position_clock("default") is None
