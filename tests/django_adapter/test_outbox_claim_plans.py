"""Outbox claims on PostgreSQL stop after ``limit`` rows whatever the table's statistics say.

A queue table's statistics are nearly always stale. The claims of ``Outbox.run`` and of the
relay go through ``eventhex_outbox_due`` (migration 0004), whose plan must be an index scan in id
order that stops after ``limit`` rows, never a scan and sort of every due row (which made each
batch cost time in proportion to the whole backlog). ``auto_explain`` hands PostgreSQL's own
plan of the function's query to the test as a notice; the tests read it for a backlog of 20,000
rows with no statistics, with current statistics and with statistics of a much smaller table.
"""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from eventhex_django_adapter.outbox import _PG_LOCK_DUE
from eventhex_django_adapter.relay_source import _PG_CLAIM

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

CLAIMS = pytest.mark.parametrize(
    "sql", [_PG_LOCK_DUE, _PG_CLAIM], ids=["Outbox.run", "relay claim"]
)


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
    connection = connections["postgres"]
    connection.ensure_connection()
    notices: list[str] = []
    handler = lambda diagnostic: notices.append(diagnostic.message_primary or "")  # noqa: E731
    connection.connection.add_notice_handler(handler)
    try:
        _execute("LOAD 'auto_explain'")
        for setting, value in [
            ("auto_explain.log_min_duration", "0"),
            ("auto_explain.log_nested_statements", "on"),
            ("auto_explain.log_format", "json"),
            ("auto_explain.log_level", "notice"),
        ]:
            _execute("SELECT set_config(%s, %s, true)", [setting, value])
        _execute(sql, _claim_params())
    finally:
        _execute("SELECT set_config('auto_explain.log_min_duration', '-1', true)")
        connection.connection.remove_notice_handler(handler)
    for notice in notices:
        document = json.loads(notice[notice.index("{") :])
        if "WITH fresh" in document["Query Text"]:
            return dict(document["Plan"])
    raise AssertionError(f"no plan of eventhex_outbox_due among {len(notices)} notices")


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def _cte(plan: dict[str, Any], name: str) -> dict[str, Any]:
    return next(node for node in _nodes(plan) if node.get("Subplan Name") == f"CTE {name}")


def _walks_in_id_order(cte: dict[str, Any], index: str) -> bool:
    nodes = list(_nodes(cte))
    scans = [node for node in nodes if node.get("Relation Name") == "eventhex_outboxentry"]
    return (
        not any(node["Node Type"] == "Sort" for node in nodes)
        and scans[0]["Node Type"] == "Index Scan"
        and scans[0]["Index Name"] == index
    )


def _assert_walks_both_indexes(sql: str) -> None:
    plan = _function_plan(sql)
    assert _walks_in_id_order(_cte(plan, "fresh"), "eventhex_outbox_fresh_idx"), plan
    assert _walks_in_id_order(_cte(plan, "retry"), "eventhex_outbox_retry_idx"), plan


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


def test_outbox_run_takes_the_oldest_due_rows() -> None:
    _fill(1, 2_000)
    positions = [int(row[8]) for row in _execute(_PG_LOCK_DUE, _claim_params())]
    assert positions == [n for n in range(1, 2_001) if n % 97 and n % 89][:500]


def test_a_relay_claims_the_oldest_due_head_of_each_stream() -> None:
    _fill(1, 2_000)
    claimed = sorted(int(row[8]) for row in _execute(_PG_CLAIM, _claim_params()))
    # rows 1..500 start the 500 streams; a stream whose first row is not due has no due head
    heads = [n for n in range(1, 501) if n % 97 and n % 89]
    assert claimed == heads
