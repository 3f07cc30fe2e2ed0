"""How reads select an event's context on PostgreSQL: NULL when plain, the schema version alone
when that is all it adds, the whole context otherwise; and how each is read back."""

import json
from typing import Any

import pytest
from django.db import connections

from eventhex_django_adapter._codec import context_value, event_context_sql, stored_context

from .conftest import on_postgres

pytestmark = on_postgres

PLAIN: dict[str, Any] = {"causation_id": None, "correlation_id": None}
CORRELATED = {"causation_id": None, "correlation_id": "8a4b0c4e-6f1e-4a59-a7c7-61c4e6a1b2d3"}


def _selected(context: dict[str, Any]) -> Any:
    with connections["postgres"].cursor() as cursor:
        cursor.execute(
            f"SELECT {event_context_sql('c.context')} FROM (SELECT %s::jsonb AS context) AS c",
            [json.dumps(context)],
        )
        return cursor.fetchone()[0]


@pytest.mark.parametrize(
    ("stored", "for_the_serde"),
    [
        (PLAIN, None),
        ({**PLAIN, "event_version": 3}, 3),
        (CORRELATED, CORRELATED),
        ({**CORRELATED, "event_version": 2}, {**CORRELATED, "event_version": 2}),
    ],
)
def test_each_stored_context_reads_back_as_stored(
    stored: dict[str, Any], for_the_serde: Any
) -> None:
    selected = _selected(stored)
    assert stored_context(selected) == for_the_serde
    assert context_value(selected) == stored
