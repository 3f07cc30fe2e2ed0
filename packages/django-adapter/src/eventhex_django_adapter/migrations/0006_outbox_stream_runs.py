"""Outbox claims take runs of a stream's consecutive entries, not one entry per stream.

0004's ``eventhex_outbox_due(due_at, batch, heads_only)`` let a relay's claim hold at most one
entry per stream (its *head*, the oldest entry still alive), so a busy stream advanced one entry
per claim, and finding the heads walked past every entry behind them. Its replacement,
``eventhex_outbox_due(due_at, batch)``, serves ``Outbox.run`` and the relay alike and returns the
ids of up to ``batch`` entries, oldest first, locked with ``FOR UPDATE SKIP LOCKED``, such that
each stream's entries among them are its head and the entries right after it:

1. *candidates*: the oldest ``batch`` due entries that no earlier alive entry of their stream
   holds back (one under a lease that has not run out, or waiting for a retry), read from the
   same two partial indexes as before, in id order, with the same fixed planner settings (ADR
   0006). The hold-back test looks in ``eventhex_outbox_held_idx``, which indexes by stream only
   the few entries that are held or have been retried. Nothing that can be walked in order is
   sorted (``enable_sort = off``: the retry walk could also read the held index and sort it),
   and the joins between these few rows are hash joins (``enable_nestloop = off``), whose cost
   does not hang on estimated row counts. The sorts that remain (a batch, never the backlog)
   carry the planner's penalty for disabled steps, which would make a claim look costly
   enough to compile with JIT (half a second per call): ``jit = off``.
2. each stream's first candidate (its head) is locked, skipping heads that another claim holds,
   and re-checked: a claim that committed since the statement's snapshot has leased, retried or
   deleted it. Only a claim that holds a stream's head takes the stream's other entries, so two
   concurrent claims never split a stream.
3. the other candidates of those streams are locked and re-checked the same way, and a stream's
   run ends at its first candidate that was not: an entry is never handed out ahead of an
   earlier one of its stream.

``eventhex_outbox_held_idx`` replaces ``eventhex_outbox_stream_idx``, which indexed every row by
stream for the head test: an append now writes one index entry fewer per outbox row.
"""

from django.apps.registry import Apps
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

_HELD = "NOT {t}.dead AND ({t}.next_attempt_at IS NOT NULL OR {t}.claimed_until IS NOT NULL)"
"""``eventhex_outbox_held_idx``'s predicate, repeated so that the planner may use the index."""

_DUE = (
    "NOT {t}.dead AND COALESCE({t}.next_attempt_at, '-infinity') <= due_at "
    "AND COALESCE({t}.claimed_until, '-infinity') <= due_at"
)

_NOT_HELD_BACK = f"""(
          SELECT p.id FROM eventhex_outboxentry p
          WHERE p.tenant_id = o.tenant_id AND p.stream_category = o.stream_category
            AND p.stream_uuid = o.stream_uuid AND p.id < o.id
            AND {_HELD.format(t="p")}
            AND (p.next_attempt_at > due_at OR p.claimed_until > due_at)
          LIMIT 1) IS NULL"""
"""No earlier alive row of the stream is held (leased, or waiting for a retry). A scalar
subquery rather than ``NOT EXISTS``: the planner cannot turn it into a join, so each walked row
probes the small held index, whatever the statistics say."""

_STREAM_OF = "{t}.tenant_id, {t}.stream_category, {t}.stream_uuid"

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
WITH fresh AS MATERIALIZED (
    SELECT o.id, {_STREAM_OF.format(t="o")} FROM eventhex_outboxentry o
    WHERE NOT o.dead AND o.next_attempt_at IS NULL AND o.claimed_until IS NULL
      AND {_NOT_HELD_BACK}
    ORDER BY o.id
    LIMIT batch
), retry AS MATERIALIZED (
    SELECT o.id, {_STREAM_OF.format(t="o")} FROM eventhex_outboxentry o
    WHERE {_HELD.format(t="o")}
      AND COALESCE(o.next_attempt_at, '-infinity') <= due_at
      AND COALESCE(o.claimed_until, '-infinity') <= due_at
      AND {_NOT_HELD_BACK}
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
    dependencies = [("eventhex", "0005_position_shift")]

    operations = [
        migrations.RemoveIndex(model_name="outboxentry", name="eventhex_outbox_stream_idx"),
        migrations.AddIndex(
            model_name="outboxentry",
            index=models.Index(
                condition=models.Q(dead=False)
                & (models.Q(next_attempt_at__isnull=False) | models.Q(claimed_until__isnull=False)),
                fields=["tenant_id", "stream_category", "stream_uuid", "id"],
                name="eventhex_outbox_held_idx",
            ),
        ),
        migrations.RunPython(replace_function, restore_function),
    ]
