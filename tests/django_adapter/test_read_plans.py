"""Reads on PostgreSQL walk an index and stop at their limit, whatever the statistics say.

An events table is often read right after a burst of writes, before anything has analyzed it.
With no statistics, or with statistics of a much smaller table, PostgreSQL planned a subscription
page as a bitmap scan of the whole remaining backlog, a join with every stream and a sort (ADR
0015). Each read now runs one of ``reads.sql``'s functions, whose planner settings are fixed.

The tests fill 100,000 events (1,000 streams, 10 events per transaction) inside the test's
transaction, then make the adapter itself read: a 500-event page of all events, of a category and
of two event names from the middle of the backlog, the current position, and three stream loads,
and the check an append makes that its uuids are new (``uuids_stored.sql``). ``auto_explain`` hands
PostgreSQL's own plan of every statement the functions run to the test as a notice, for custom
plans and for the generic plans a session settles on. Every scan of the events must be an index
scan under a limit with no sort in between, the streams are found through their primary key or
uuid, and no table is scanned whole.
"""

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
from django.db import connections
from event_sourcery import StreamId

from eventhex_django_adapter._codec import encode
from eventhex_django_adapter._storage.reads import load_stream
from eventhex_django_adapter._subscription.reads import (
    EventSelection,
    newest_readable_position,
    read_after,
)

from ._plans import explained, plan_nodes
from .conftest import on_postgres

pytestmark = on_postgres

ALIAS = "postgres"
EVENTS = 100_000
STREAMS = 1_000
SHIFT = 1_000_000
"""Raised (inside the test's transaction) so that the invented transaction ids are readable."""

STREAM_KEYS = ("eventhex_stream_pkey", "eventhex_stream_uuid_uniq")
"""The indexes that find one stream; the name index also matches a lookup by uuid's first two
columns, and would make it filter every stream of the category."""

_STREAMS = """
INSERT INTO eventhex_stream (uuid, name, category, tenant_id, version)
SELECT md5('plans' || s)::uuid, NULL, 'plan' || (s %% 5), 'default',
       CASE WHEN s %% 10 = 0 THEN NULL ELSE %(per_stream)s END
FROM generate_series(1, %(streams)s) AS s
"""
"""Streams ``plan0`` to ``plan4``; every tenth one unversioned."""

_EVENTS = """
INSERT INTO eventhex_event
    (stream_id, version, uuid, name, data, context, created_at, category, tenant_id, tx_id)
SELECT s.id, CASE WHEN s.version IS NULL THEN NULL ELSE (n - 1) / %(streams)s + 1 END,
       gen_random_uuid(), 'Planned' || (n %% 7),
       jsonb_build_object('n', n, 'text', 'a payload of some ordinary length'),
       '{"causation_id": null, "correlation_id": null}', now(), s.category, 'default',
       (n - 1) / 10 + 1
FROM generate_series(%(first)s, %(last)s) AS n
JOIN eventhex_stream s ON s.uuid = md5('plans' || (
    CASE WHEN %(early)s THEN (n - 1) %% 5 * 10 + 10 ELSE (n - 1) %% %(streams)s + 1 END))::uuid
"""
"""Event ``n`` goes to stream ``(n - 1) % 1,000 + 1`` at that stream's next version; the events
of an ``early`` store go to five unversioned streams, as a young application's would."""

_SNAPSHOTS = """
INSERT INTO eventhex_snapshot (uuid, stream_id, version, name, data, context, created_at)
SELECT gen_random_uuid(), s.id, v, 'PlanSnapshot', '{}', '{}', now()
FROM eventhex_stream s CROSS JOIN generate_series(10, 90, 10) AS v
WHERE s.version IS NOT NULL
"""

_NO_STATISTICS = """
DELETE FROM pg_statistic
WHERE starelid IN ('eventhex_event'::regclass, 'eventhex_stream'::regclass,
                   'eventhex_snapshot'::regclass)
"""
"""As on a table nothing has analyzed yet (rolled back with the test's transaction)."""


def _execute(sql: str, params: object = None) -> list[tuple[Any, ...]]:
    with connections[ALIAS].cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []


def _fill(first: int, last: int, early: bool = False) -> None:
    _execute(_EVENTS, {"first": first, "last": last, "streams": STREAMS, "early": early})


def _analyze() -> None:
    _execute("ANALYZE eventhex_event, eventhex_stream, eventhex_snapshot")


def _store(statistics: str) -> None:
    """100,000 events with no statistics, current statistics, or those of 200 events."""
    _execute(
        "UPDATE eventhex_position_shift SET shift = %s; "
        "SELECT set_config('eventhex.position_shift', %s, true)",
        [SHIFT, str(SHIFT)],
    )
    _execute(_STREAMS, {"streams": STREAMS, "per_stream": EVENTS // STREAMS})
    if statistics == "of a smaller table":
        _fill(1, 200, early=True)
        _analyze()
        _fill(201, EVENTS)
    else:
        _fill(1, EVENTS)
    _execute(_SNAPSHOTS)
    if statistics == "none":
        _execute(_NO_STATISTICS)
    elif statistics == "current":
        _analyze()


def _plans_of(read: Callable[[], object], generic: bool) -> list[dict[str, Any]]:
    """PostgreSQL's plans of the statements that ``read`` runs inside eventhex's functions."""
    mode = "force_generic_plan" if generic else "force_custom_plan"
    return [
        document["Plan"]
        for document in explained(ALIAS, read, [("plan_cache_mode", mode)])
        if "eventhex_event" in document["Query Text"]
        or "eventhex_snapshot" in document["Query Text"]
        or "FROM eventhex_stream st" in document["Query Text"]
    ]


def _problems(plan: dict[str, Any]) -> list[str]:
    """What makes ``plan`` cost more than its limit: whole-table scans, sorts of the backlog."""
    found = []
    for node, above in plan_nodes(plan):
        kind, relation = node["Node Type"], node.get("Relation Name")
        if kind in ("Seq Scan", "Bitmap Heap Scan", "Hash Join", "Merge Join"):
            found.append(f"{kind} on {relation or 'a join'}")
        if relation == "eventhex_event":
            if kind not in ("Index Scan", "Index Only Scan"):
                found.append(f"{kind} of the events")
            limits = [i for i, parent in enumerate(above) if parent["Node Type"] == "Limit"]
            loaded_stream = "stream_id" in node.get("Index Cond", "")
            by_uuid = node.get("Index Name") == "eventhex_event_uuid_key"  # unique: one row each
            if not limits and not loaded_stream and not by_uuid:
                found.append(f"events walked by {node.get('Index Name')} without a limit")
            if limits and any(p["Node Type"] == "Sort" for p in above[limits[-1] :]):
                found.append("events sorted before their limit")
            if loaded_stream and any(p["Node Type"] == "Sort" for p in above):
                found.append("a stream's events sorted whole instead of walked in order")
        if relation == "eventhex_stream" and node.get("Index Name") not in STREAM_KEYS:
            found.append(f"streams found by {node.get('Index Name') or kind}")
    return found


def _reads() -> dict[str, Callable[[], object]]:
    """The reads, as the adapter runs them, from the middle of the backlog."""
    tx_id, event_id = _execute(
        "SELECT tx_id, id FROM eventhex_event ORDER BY tx_id, id OFFSET %s LIMIT 1", [EVENTS // 5]
    )[0]
    middle = encode(tx_id, event_id)
    versioned, unversioned = (
        StreamId(uuid=uuid, category=category)
        for uuid, category in _execute(
            "SELECT uuid, category FROM eventhex_stream WHERE name IS NULL AND id IN "
            "(SELECT min(id) FROM eventhex_stream GROUP BY version IS NULL) ORDER BY version"
        )
    )

    def page(selection: EventSelection) -> Callable[[], object]:
        return lambda: read_after(ALIAS, selection, middle, 500)

    def load(stream: StreamId, start: int | None, stop: int | None) -> Callable[[], object]:
        return lambda: load_stream(ALIAS, "default", stream, start, stop)

    stored = [row[0] for row in _execute("SELECT uuid FROM eventhex_event LIMIT 3")]

    def uuids_stored() -> None:  # the check of every append (``uuids_stored.sql``)
        found = _execute(
            "SELECT eventhex_uuids_stored(%s::uuid[]), eventhex_uuids_stored(%s::uuid[])",
            [[*stored, uuid4()], [uuid4() for _ in range(10)]],
        )
        assert found == [(True, False)]

    return {
        "all events": page(EventSelection()),
        "a category": page(EventSelection(category="plan3")),
        "event names": page(EventSelection(names=("Planned2", "Planned5"))),
        "the current position": lambda: newest_readable_position(ALIAS),
        "a stream": load(versioned, None, None),
        "a stream's range": load(versioned, 25, 75),
        "an unversioned stream": load(unversioned, None, None),
        "an append's check of its uuids": uuids_stored,
    }


@pytest.mark.parametrize("statistics", ["none", "current", "of a smaller table"])
def test_every_read_walks_an_index_up_to_its_limit(statistics: str) -> None:
    _store(statistics)
    found: dict[str, list[str]] = {}
    for name, read in _reads().items():
        for generic in (False, True):
            plans = _plans_of(read, generic)
            assert plans, f"no plan of {name}: is auto_explain available?"
            problems = [problem for plan in plans for problem in _problems(plan)]
            if problems:
                found[f"{name} ({'generic' if generic else 'custom'} plan)"] = problems

    assert found == {}


_BEFORE_0008 = """
WITH horizon AS MATERIALIZED (
    SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint + clock.shift AS xmin,
           pg_current_xact_id_if_assigned()::text::bigint + clock.shift AS own
    FROM (SELECT eventhex_position_shift() AS shift) clock
)
SELECT e.id, e.tx_id, e.uuid, e.name, e.data, e.context, s.uuid, s.name
FROM eventhex_event e JOIN eventhex_stream s ON s.id = e.stream_id
WHERE (e.tx_id, e.id) > (%s, %s)
  AND e.tx_id < (SELECT GREATEST(xmin, own + 1) FROM horizon)
  AND (e.tx_id < (SELECT xmin FROM horizon) OR e.tx_id = (SELECT own FROM horizon))
ORDER BY e.tx_id, e.id LIMIT %s"""
"""The page query the adapter sent before ``reads.sql``, planned with the session's settings."""


@pytest.mark.parametrize("statistics", ["none", "of a smaller table"])
def test_the_store_reproduces_pages_that_sort_the_backlog(statistics: str) -> None:
    """Without fixed settings, a page of this store sorts the whole backlog (issue 14)."""
    _store(statistics)

    explained = _execute(f"EXPLAIN (FORMAT JSON) {_BEFORE_0008}", [EVENTS // 50, 0, 500])

    assert "events sorted before their limit" in _problems(explained[0][0][0]["Plan"])
