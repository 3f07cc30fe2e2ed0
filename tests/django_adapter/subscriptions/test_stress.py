"""Stress: real writer and subscriber processes against PostgreSQL.

Four writers append to named streams in two categories; some transactions stay open longer than
the time limit and ``gap_retry_interval``, some roll back. Subscribers to everything, to one
category and to one event type run at the same time, and a fourth to everything starts late and
catches up, reading pages ahead, while the writers go on. Every committed event must arrive exactly
once, no rolled-back event ever, and in commit order: in ``(tx_id, id)`` order as stored, and
never before an event whose transaction had committed before its own transaction began.
"""

from __future__ import annotations

import multiprocessing
from itertools import combinations
from typing import Any

import pytest
from django.db import connections

from eventhex_django_adapter import DjangoBackend, DjangoConfig
from eventhex_django_adapter.models import Event
from tests.django_adapter.subscriptions import _stress

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(databases=["postgres"], transaction=True),
]

WRITERS = 4
TRANSACTIONS = 30
Key = tuple[int, int, int]


def _database_settings() -> dict[str, Any]:
    settings = connections[_stress.DATABASE].settings_dict
    return {name: settings[name] for name in ("NAME", "HOST", "PORT", "USER", "PASSWORD")}


def _run_processes(
    start: int,
) -> tuple[list[Any], dict[str, list[tuple[int, int, int, int]]], dict[str, int]]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    stop = context.Event()
    database = _database_settings()
    subscribers = [
        context.Process(target=_stress.subscribe, args=(database, kind, start, stop, results))
        for kind in ("all", "category", "types", "late")
    ]
    writers = [
        context.Process(target=_stress.write, args=(database, n, TRANSACTIONS, results))
        for n in range(WRITERS)
    ]
    for process in subscribers + writers:
        process.start()
    logs: list[Any] = []
    received: dict[str, list[tuple[int, int, int, int]]] = {}
    read_ahead: dict[str, int] = {}
    try:
        for _ in writers:
            _, _, log = results.get(timeout=120)
            logs.extend(log)
        stop.set()
        for _ in subscribers:
            _, kind, records, pages_read_ahead = results.get(timeout=120)
            received[kind] = records
            read_ahead[kind] = pages_read_ahead
    finally:
        stop.set()
        for process in subscribers + writers:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    return logs, received, read_ahead


def _stored_commit_order(select: dict[str, Any]) -> list[Key]:
    rows = (
        Event.objects.using(_stress.DATABASE)
        .filter(**select)
        .order_by("tx_id", "id")
        .values_list("data", flat=True)
    )
    return [(row["writer"], row["seq"], row["part"]) for row in rows]


def test_every_committed_event_arrives_once_in_commit_order_and_rolled_back_never() -> None:
    backend = DjangoBackend().configure(DjangoConfig(database=_stress.DATABASE))
    start = backend.event_store.position or 0

    logs, received, read_ahead = _run_processes(start)

    committed = {(w, s) for w, s, _, ok, _, _ in logs if ok}
    rolled_back = {(w, s) for w, s, _, ok, _, _ in logs if not ok}
    held = [entry for entry in logs if entry[1] % 6 == 3 and entry[3]]
    assert len(logs) == WRITERS * TRANSACTIONS
    assert rolled_back
    assert held
    expected = {
        "all": _stored_commit_order({}),
        "category": _stored_commit_order({"category": "alpha"}),
        "types": _stored_commit_order({"name": "eventhex.stress.Shipped"}),
    }
    expected["late"] = expected["all"]
    assert {(w, s) for w, s, _ in expected["all"]} == committed
    assert {(w, s, n) for w, s, parts, ok, _, _ in logs if ok for n in range(parts)} == set(
        expected["all"]
    )
    for kind, records in received.items():
        keys = [(w, s, n) for w, s, n, _ in records]
        positions = [p for _, _, _, p in records]
        assert keys == expected[kind], kind
        assert len(set(keys)) == len(keys), kind
        assert not {(w, s) for w, s, _ in keys} & rolled_back, kind
        assert positions == sorted(positions), kind
        assert len(set(positions)) == len(positions), kind
    assert len(received) == 4
    assert read_ahead["late"] > 0  # it caught up reading ahead, with the writers still going
    _assert_causal_order(logs, [(w, s) for w, s, _, _ in received["all"]])


def _assert_causal_order(logs: list[Any], delivered: list[tuple[int, int]]) -> None:
    """A transaction that began after another had committed must come after it."""
    begun = {(w, s): begin for w, s, _, ok, begin, _ in logs if ok}
    ended = {(w, s): end for w, s, _, ok, _, end in logs if ok}
    first_seen: dict[tuple[int, int], int] = {}
    for index, tx in enumerate(delivered):
        first_seen.setdefault(tx, index)
    for earlier, later in combinations(sorted(first_seen, key=first_seen.__getitem__), 2):
        assert not ended[later] < begun[earlier], (earlier, later)
