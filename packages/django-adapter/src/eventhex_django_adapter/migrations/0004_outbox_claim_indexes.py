"""Outbox claims walk partial indexes in id order instead of sorting every due row.

0001's ``(dead, next_attempt_at, id)`` index let the planner answer "due rows, oldest first" with
a bitmap scan and a sort of every due row. An outbox table is a queue whose statistics are nearly
always stale, and with stale statistics PostgreSQL chose that plan even for a large backlog, so
every batch cost time in proportion to the whole backlog, exactly when a backlog needs draining.

Now ``eventhex_outbox_fresh_idx`` holds the live rows that nobody holds and nobody retries (nearly
all of them) and ``eventhex_outbox_retry_idx`` the few others (under a relay's lease, which may
have run out, or waiting for a retry). On PostgreSQL, ``eventhex_outbox_due(due_at, batch,
heads_only)`` returns the ids of up to ``batch`` due rows, oldest first, locked with ``FOR UPDATE
SKIP LOCKED``: two index scans in id order that stop after ``batch`` rows, one per index, whose
oldest ``batch`` rows are the answer (the few extra rows the second scan locks stay unclaimed
until the calling transaction ends). With ``heads_only`` a row qualifies only if no earlier row of
its stream is alive, which is how a relay's claim keeps per-stream order. The function carries
its own planner settings (no sequential or bitmap scans), which PostgreSQL applies while it
runs and restores afterwards, so its plan is the same whatever the statistics say and nothing
leaks into the caller's transaction.

This supersedes 0003's note on claims as HOT updates: ``claimed_until`` now moves a row from one
partial index to the other, which costs an index entry per claim and buys claims whose cost no
longer grows with the backlog.
"""

from django.apps.registry import Apps
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

_STREAM_HEAD = """(NOT heads_only OR NOT EXISTS (
          SELECT 1 FROM eventhex_outboxentry p
          WHERE p.tenant_id = o.tenant_id AND p.stream_category = o.stream_category
            AND p.stream_uuid = o.stream_uuid AND p.id < o.id AND NOT p.dead))"""

CREATE = f"""
CREATE OR REPLACE FUNCTION eventhex_outbox_due(due_at timestamptz, batch integer, heads_only boolean)
RETURNS SETOF bigint
LANGUAGE sql VOLATILE
SET enable_seqscan = off
SET enable_bitmapscan = off
AS $$
WITH fresh AS MATERIALIZED (
    SELECT o.id FROM eventhex_outboxentry o
    WHERE NOT o.dead AND o.next_attempt_at IS NULL AND o.claimed_until IS NULL
      AND {_STREAM_HEAD}
    ORDER BY o.id
    LIMIT batch
    FOR UPDATE OF o SKIP LOCKED
), retry AS MATERIALIZED (
    SELECT o.id FROM eventhex_outboxentry o
    WHERE NOT o.dead AND (o.next_attempt_at IS NOT NULL OR o.claimed_until IS NOT NULL)
      AND COALESCE(o.next_attempt_at, '-infinity') <= due_at
      AND COALESCE(o.claimed_until, '-infinity') <= due_at
      AND {_STREAM_HEAD}
    ORDER BY o.id
    LIMIT batch
    FOR UPDATE OF o SKIP LOCKED
)
SELECT id FROM fresh UNION ALL SELECT id FROM retry ORDER BY id LIMIT batch
$$;
"""

DROP = "DROP FUNCTION IF EXISTS eventhex_outbox_due(timestamptz, integer, boolean);"


def create_function(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_function(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("eventhex", "0003_outbox_notify")]

    operations = [
        migrations.RemoveIndex(model_name="outboxentry", name="eventhex_outbox_due_idx"),
        migrations.AddIndex(
            model_name="outboxentry",
            index=models.Index(
                condition=models.Q(
                    dead=False, next_attempt_at__isnull=True, claimed_until__isnull=True
                ),
                fields=["id"],
                name="eventhex_outbox_fresh_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="outboxentry",
            index=models.Index(
                condition=models.Q(dead=False)
                & (models.Q(next_attempt_at__isnull=False) | models.Q(claimed_until__isnull=False)),
                fields=["id"],
                name="eventhex_outbox_retry_idx",
            ),
        ),
        migrations.RunPython(create_function, drop_function),
    ]
