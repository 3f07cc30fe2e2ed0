"""Outbox claims on PostgreSQL stop after ``limit`` rows whatever the table's statistics say.

A queue table's statistics are nearly always stale. The claims of ``Outbox.run`` and of the
relay go through ``eventhex_outbox_due`` (``outbox_due.sql``), whose plan must be an index scan
in id order that stops after ``limit`` rows, never a scan and sort of every due row (which made each
batch cost time in proportion to the whole backlog), passing the rows of streams held by a lease
or a retry through a hash table of those streams. ``auto_explain`` hands PostgreSQL's own plan
of the function's query to the test as a notice; the tests read it for a backlog of 20,000 rows
with no statistics, with current statistics and with statistics of a much smaller table.
"""

from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from eventhex_django_adapter._outbox.table import CLAIM_SQL, LOCK_SQL

from ._plans import explained, plan_nodes
from .conftest import on_postgres

pytestmark = on_postgres

_FILL = """
INSERT INTO eventhex_outboxentry (
    event_uuid, event_name, stream_uuid, stream_name, stream_category, tenant_id, version,
    position, created_at, data, context, attempts, max_attempts, dead, last_error, enqueued_at,
    next_attempt_at, claimed_by, claimed_until)
SELECT gen_random_uuid(), 'Planned', md5((n %% 500)::text)::uuid, NULL, 'plan', 'default',
       n / 500 + 1, n, now(), '{"n": 1}', '{}', 0, 5, false, '', now(),
       CASE WHEN n %% 97 = 0 THEN now() + interval '1 hour' END,
       CASE WHEN n %% 89 = 0 THEN 'other-relay' END,
       CASE WHEN n %% 89 = 0 THEN now() + interval '1 hour' END
FROM generate_series(%s, %s) AS n
"""
"""Rows in 500 streams; about 1 % wait for a retry and 1 % are held by another relay."""

CLAIMS = pytest.mark.parametrize("sql", [LOCK_SQL, CLAIM_SQL], ids=["Outbox.run", "relay claim"])


def _execute(sql: str, params: object = None) -> list[tuple[Any, ...]]:
    with connections["postgres"].cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []


def _fill(first: int, last: int) -> None:
    _execute(_FILL, [first, last])


def _claim_params() -> dict[str, object]:
    now = timezone.now()
    return {"now": now, "limit": 500, "owner": "planner", "until": now}


def _function_plan(sql: str) -> dict[str, Any]:
    """The plan PostgreSQL ran for ``eventhex_outbox_due``'s query while executing ``sql``."""
    documents = explained("postgres", lambda: _execute(sql, _claim_params()))
    for document in documents:
        if "WITH held" in document["Query Text"]:
            assert "JIT" not in document, document  # compiling costs far more than running
            return dict(document["Plan"])
    raise AssertionError(f"no plan of eventhex_outbox_due among {len(documents)} statements")


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [node for node, _ in plan_nodes(plan)]


def _cte(plan: dict[str, Any], name: str) -> dict[str, Any]:
    return next(node for node in _nodes(plan) if node.get("Subplan Name") == f"CTE {name}")


def _walks_in_id_order(cte: dict[str, Any], index: str) -> bool:
    """The CTE reads ``index`` in id order, sorts nothing, and skips the rows of held streams by
    a lookup in a hash table (no probe of the table per row)."""
    nodes = list(_nodes(cte))
    scans = [node for node in nodes if node.get("Relation Name") == "eventhex_outboxentry"]
    return (
        not any(node["Node Type"] == "Sort" for node in nodes)
        and [scan["Node Type"] for scan in scans] == ["Index Scan"]
        and scans[0]["Index Name"] == index
        and "hashed SubPlan" in scans[0].get("Filter", "")
    )


def _assert_walks_both_indexes(sql: str) -> None:
    plan = _function_plan(sql)
    assert _walks_in_id_order(_cte(plan, "fresh"), "eventhex_outbox_fresh_idx"), plan
    assert _walks_in_id_order(_cte(plan, "retry"), "eventhex_outbox_retry_idx"), plan
    kinds = {node["Node Type"] for node in _nodes(plan)}
    assert not kinds & {"Seq Scan", "Bitmap Heap Scan", "Nested Loop"}, plan  # joins hash


@CLAIMS
def test_a_backlog_without_statistics_is_walked_in_id_order(sql: str) -> None:
    _fill(1, 20_000)
    _assert_walks_both_indexes(sql)


@CLAIMS
def test_a_backlog_with_statistics_is_walked_in_id_order(sql: str) -> None:
    _fill(1, 20_000)
    _execute("ANALYZE eventhex_outboxentry")
    _assert_walks_both_indexes(sql)


@CLAIMS
def test_a_backlog_with_statistics_of_a_small_table_is_walked_in_id_order(sql: str) -> None:
    _fill(1, 200)
    _execute("ANALYZE eventhex_outboxentry")
    _fill(201, 20_000)
    _assert_walks_both_indexes(sql)


def _not_due(n: int) -> bool:
    return n % 97 == 0 or n % 89 == 0  # waiting for a retry, or held by another relay


def _claimable(last: int) -> list[int]:
    """Rows 1..``last`` that are due, of streams (``n % 500``) none of whose rows is not due."""
    held = {n % 500 for n in range(1, last + 1) if _not_due(n)}
    return [n for n in range(1, last + 1) if not _not_due(n) and n % 500 not in held]


def test_outbox_run_takes_the_oldest_due_rows_of_streams_nothing_holds() -> None:
    _fill(1, 2_000)
    positions = [int(row[8]) for row in _execute(LOCK_SQL, _claim_params())]
    assert positions == _claimable(2_000)[:500]


def test_a_relay_claims_what_outbox_run_would() -> None:
    _fill(1, 2_000)
    claimed = sorted(int(row[8]) for row in _execute(CLAIM_SQL, _claim_params()))
    assert claimed == _claimable(2_000)[:500]


def test_a_claim_takes_a_run_of_one_busy_stream_unless_it_is_held() -> None:
    one_free_stream = _FILL.replace("n %% 500", "0").replace("n %% 97", "n").replace("n %% 89", "n")
    _execute(one_free_stream, [1, 2_000])
    assert [int(row[8]) for row in _execute(LOCK_SQL, _claim_params())] == list(range(1, 501))
    _execute(
        "UPDATE eventhex_outboxentry SET claimed_until = now() + interval '1 hour' "
        "WHERE id = (SELECT max(id) FROM eventhex_outboxentry)"
    )
    assert _execute(LOCK_SQL, _claim_params()) == []  # its last row is leased
