"""Outbox claims take runs of a stream's consecutive entries, not one entry per stream.

0004's ``eventhex_outbox_due(due_at, batch, heads_only)`` let a relay's claim hold at most one
entry per stream (its *head*, the oldest entry still alive), so a busy stream advanced one entry
per claim, and finding the heads walked past every entry behind them, probing each. Its
replacement, ``eventhex_outbox_due(due_at, batch)``, serves ``Outbox.run`` and the relay alike
and returns the ids of up to ``batch`` entries, oldest first, locked with ``FOR UPDATE SKIP
LOCKED``, such that each stream's entries among them are its head and the entries right after
it:

1. *held* streams: those with an entry that is not due (leased, or waiting for a retry), read
   from the few rows of the retry index. Nothing of a held stream is claimed.
2. *candidates*: the oldest ``batch`` due entries of streams that are not held, read from the
   same two partial indexes as before, in id order (ADR 0006). A walk passes an entry of a held
   stream at the cost of a lookup in a hash table of the held streams.
3. each stream's first candidate (its head) is locked, skipping heads that another claim holds,
   and re-checked: a claim that committed since the statement's snapshot has leased, retried or
   deleted it. Only a claim that holds a stream's head takes the stream's other entries, so two
   concurrent claims never split a stream.
4. the other candidates of those streams are locked and re-checked the same way, and a stream's
   run ends at its first candidate that was not: an entry is never handed out ahead of an
   earlier one of its stream.

The planner settings are fixed as in 0004, and more: nothing that can be walked in order is
sorted (``enable_sort = off``), and the joins between the few rows of one batch are hash joins
(``enable_nestloop = off``), whose cost does not hang on estimated row counts. The sorts that
remain (of one batch, never of the backlog) carry the planner's penalty for disabled steps,
which would make a claim look costly enough to compile with JIT (half a second per call):
``jit = off``.

``eventhex_outbox_stream_idx``, which indexed every row by stream for the head test, goes: an
append writes one index entry fewer per outbox row.
"""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

_HELD = "NOT p.dead AND (p.next_attempt_at IS NOT NULL OR p.claimed_until IS NOT NULL)"
"""The partial indexes' predicate of rows that are, or were, leased or retried."""

_DUE = (
    "NOT {t}.dead AND COALESCE({t}.next_attempt_at, '-infinity') <= due_at "
    "AND COALESCE({t}.claimed_until, '-infinity') <= due_at"
)

_STREAM_OF = "{t}.tenant_id, {t}.stream_category, {t}.stream_uuid"

_FREE = f"({_STREAM_OF.format(t='o')}) NOT IN (SELECT * FROM held)"
"""The row's stream holds no row back. An uncorrelated ``NOT IN``, which PostgreSQL answers
from a hash table of the few held streams: a walk passes a held stream's rows at the cost of a
hash lookup each."""

CREATE = f"""
CREATE FUNCTION eventhex_outbox_due(due_at timestamptz, batch integer)
RETURNS SETOF bigint
LANGUAGE sql VOLATILE
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_nestloop = off
SET enable_sort = off
SET jit = off
AS $$
WITH held AS MATERIALIZED (
    SELECT DISTINCT {_STREAM_OF.format(t="p")} FROM eventhex_outboxentry p
    WHERE {_HELD} AND (p.next_attempt_at > due_at OR p.claimed_until > due_at)
), fresh AS MATERIALIZED (
    SELECT o.id, {_STREAM_OF.format(t="o")} FROM eventhex_outboxentry o
    WHERE NOT o.dead AND o.next_attempt_at IS NULL AND o.claimed_until IS NULL AND {_FREE}
    ORDER BY o.id
    LIMIT batch
), retry AS MATERIALIZED (
    SELECT o.id, {_STREAM_OF.format(t="o")} FROM eventhex_outboxentry o
    WHERE {_HELD.replace("p.", "o.")}
      AND COALESCE(o.next_attempt_at, '-infinity') <= due_at
      AND COALESCE(o.claimed_until, '-infinity') <= due_at
      AND {_FREE}
    ORDER BY o.id
    LIMIT batch
), candidate AS MATERIALIZED (
    SELECT c.id, min(c.id) OVER (PARTITION BY {_STREAM_OF.format(t="c")}) AS head_id
    FROM (SELECT * FROM fresh UNION ALL SELECT * FROM retry ORDER BY id LIMIT batch) c
), head AS MATERIALIZED (
    SELECT o.id FROM eventhex_outboxentry o
    WHERE o.id = ANY(ARRAY(SELECT id FROM candidate WHERE id = head_id))
      AND {_DUE.format(t="o")}
    FOR UPDATE OF o SKIP LOCKED
), rest AS MATERIALIZED (
    SELECT o.id FROM eventhex_outboxentry o
    WHERE o.id = ANY(ARRAY(
        SELECT c.id FROM candidate c JOIN head h ON h.id = c.head_id WHERE c.id <> c.head_id))
      AND {_DUE.format(t="o")}
    FOR UPDATE OF o SKIP LOCKED
), run AS (
    SELECT c.id, bool_and(l.id IS NOT NULL) OVER (PARTITION BY c.head_id ORDER BY c.id) AS unbroken
    FROM candidate c
    LEFT JOIN (SELECT id FROM head UNION ALL SELECT id FROM rest) l ON l.id = c.id
)
SELECT id FROM run WHERE unbroken ORDER BY id
$$;
"""

DROP = "DROP FUNCTION IF EXISTS eventhex_outbox_due(timestamptz, integer);"


def replace_function(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION eventhex_outbox_due(timestamptz, integer, boolean);")
        schema_editor.execute(CREATE)


def restore_function(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        from importlib import import_module

        previous = import_module("eventhex_django_adapter.migrations.0004_outbox_claim_indexes")
        schema_editor.execute(DROP)
        schema_editor.execute(previous.CREATE)


class Migration(migrations.Migration):
    dependencies = [("eventhex", "0006_projections")]

    operations = [
        migrations.RemoveIndex(model_name="outboxentry", name="eventhex_outbox_stream_idx"),
        migrations.RunPython(replace_function, restore_function),
    ]
