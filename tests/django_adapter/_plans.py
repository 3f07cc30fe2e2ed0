"""PostgreSQL's own plans of what a test runs, as ``auto_explain`` reports them.

The plan tests fill a table, then make the adapter run a statement; ``auto_explain`` hands the
plan of every statement executed, nested ones inside eventhex's SQL functions included, to the
test as a notice (JSON with the query text).
"""

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from django.db import connections


def _execute(alias: str, sql: str, params: object = None) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)


def explained(
    alias: str, run: Callable[[], object], settings: Sequence[tuple[str, str]] = ()
) -> list[dict[str, Any]]:
    """The ``auto_explain`` documents (``"Query Text"``, ``"Plan"``, ...) of every statement
    ``run`` executes on ``alias``, with the extra ``settings`` set for the transaction."""
    connection = connections[alias]
    connection.ensure_connection()
    notices: list[str] = []
    handler = lambda diagnostic: notices.append(diagnostic.message_primary or "")  # noqa: E731
    connection.connection.add_notice_handler(handler)
    try:
        _execute(alias, "LOAD 'auto_explain'")
        for setting, value in [
            ("auto_explain.log_min_duration", "0"),
            ("auto_explain.log_nested_statements", "on"),
            ("auto_explain.log_format", "json"),
            ("auto_explain.log_level", "notice"),
            *settings,
        ]:
            _execute(alias, "SELECT set_config(%s, %s, true)", [setting, value])
        run()
    finally:
        _execute(alias, "SELECT set_config('auto_explain.log_min_duration', '-1', true)")
        connection.connection.remove_notice_handler(handler)
    return [json.loads(notice[notice.index("{") :]) for notice in notices if "{" in notice]


def plan_nodes(
    node: dict[str, Any], above: tuple[dict[str, Any], ...] = ()
) -> Iterator[tuple[dict[str, Any], tuple[dict[str, Any], ...]]]:
    """Every node of a plan with the nodes above it, nearest last."""
    yield node, above
    for child in node.get("Plans", []):
        yield from plan_nodes(child, (*above, node))
