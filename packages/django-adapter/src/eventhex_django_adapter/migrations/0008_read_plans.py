"""PostgreSQL reads through functions whose plan does not depend on statistics (ADR 0015).

An events table is read right after bursts of writes (a new deployment, a bulk import, a busy
hour between autovacuum runs), so its statistics are often missing or stale. With them, the
planner read a subscription page as a bitmap scan of the whole remaining backlog, a hash join
with every stream and a sort, so a catch-up cost O(backlog) per page.

Every read now goes through a PL/pgSQL function declared with fixed planner settings (no
sequential or bitmap scans, no sorts, hash or merge joins, no JIT), which PostgreSQL applies
while the function runs and restores afterwards, as ``eventhex_outbox_due`` does (0007). What
is left to the planner is an index walk in the order the read needs, stopped by its limit, and
one primary-key lookup per returned row. PL/pgSQL keeps each statement's plan for the session,
so nothing is planned per call once a connection has warmed up.

* ``eventhex_read_all(after_tx, after_id, batch)``, ``eventhex_read_category(category, ...)``
  and ``eventhex_read_names(names, ...)``: a subscription page, the next ``batch`` readable
  events after the position (``tx_id``, id), in commit order, with their stream's uuid and
  name. Readable is the rule of 0002 and 0005: committed below the oldest running transaction,
  or written by the reader's own transaction. Event names are walked one index each and merged,
  which sorts at most ``batch`` rows per name.
* ``eventhex_newest_position()``: the (``tx_id``, id) of the newest readable event.
* ``eventhex_load_stream(tenant, category, stream, start, stop)``: a stream's head row (name,
  version, and the newest snapshot in ``[start, stop)``), then the events after it in order.

Rows come back in the order the function returns them (a plain scan of a function's result
keeps it), so callers add no ``ORDER BY``.

The unique constraint on stream names becomes partial (``name IS NOT NULL``, which changes
nothing: NULL names never collided). A lookup by (tenant, category, uuid) could otherwise take
the name index, which matches its first two columns too, and filter every stream of the
category; now only a lookup by name can use it.
"""

from django.apps.registry import Apps
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

SETTINGS = """LANGUAGE plpgsql {volatility}
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET jit = off"""
"""Fixed plans. A sort stays possible where nothing else can answer (merging event names);
JIT is off because a plan that must sort carries the disabled sort's huge cost estimate."""

HORIZON = """WITH horizon AS MATERIALIZED (
        SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint + clock.shift AS xmin,
               pg_current_xact_id_if_assigned()::text::bigint + clock.shift AS own
        FROM (SELECT eventhex_position_shift() AS shift) clock
    )"""
"""The statement's read horizon and the reader's own ``tx_id``, shifted like the stamps (0005)."""

READABLE = """e.tx_id < (SELECT GREATEST(h.xmin, h.own + 1) FROM horizon h)
              AND (e.tx_id < (SELECT h.xmin FROM horizon h)
                   OR e.tx_id = (SELECT h.own FROM horizon h))"""
"""Committed below the horizon, or written by the reader's own transaction; the first line
bounds the index range, the second drops other transactions' rows past the horizon."""

EVENT_ROW = """TABLE (
    id bigint, tx_id bigint, uuid uuid, name varchar, data jsonb, context jsonb,
    created_at timestamptz, version integer, category varchar, tenant_id varchar,
    stream_uuid uuid, stream_name varchar)"""


def _page(condition: str) -> str:
    """The next ``batch`` readable events after the position that also meet ``condition``."""
    return f"""SELECT e.* FROM eventhex_event e
        WHERE {condition}(e.tx_id, e.id) > (after_tx, after_id)
          AND {READABLE}
        ORDER BY e.tx_id, e.id
        LIMIT batch"""


def _read(name: str, parameter: str, page: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {name}({parameter}after_tx bigint, after_id bigint, batch integer)
RETURNS {EVENT_ROW}
{SETTINGS.format(volatility="VOLATILE")}
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    {HORIZON}
    SELECT e.id, e.tx_id, e.uuid, e.name, e.data, e.context, e.created_at, e.version,
           e.category, e.tenant_id, s.uuid, s.name
    FROM ({page}) e
    JOIN eventhex_stream s ON s.id = e.stream_id
    ORDER BY e.tx_id, e.id;
END
$$;
"""


AFTER_SNAPSHOT = """e.version > snap.version AND (in_stop IS NULL OR e.version < in_stop)"""

IN_RANGE = """((in_start IS NULL AND in_stop IS NULL) OR e.version IS NULL
               OR ((in_start IS NULL OR e.version >= in_start)
                   AND (in_stop IS NULL OR e.version < in_stop)))"""


def _stream_events(condition: str, order: str) -> str:
    """The loaded stream's events that meet ``condition``, as ``eventhex_load_stream`` rows."""
    return f"""
        SELECT 1, e.id, NULL::varchar, NULL::bigint, e.uuid, e.name, e.data, e.context,
               e.created_at, e.version
        FROM eventhex_event e
        WHERE e.stream_id = stream_row.id AND {condition}
        ORDER BY {order}"""


NAMES_PAGE = f"""SELECT e.* FROM unnest(names) AS wanted(name)
        CROSS JOIN LATERAL ({_page("e.name = wanted.name AND ")}) e
        ORDER BY e.tx_id, e.id
        LIMIT batch"""

CREATE = (
    _read("eventhex_read_all", "", _page(""))
    + _read(
        "eventhex_read_category", "only_category text, ", _page("e.category = only_category AND ")
    )
    + _read("eventhex_read_names", "names text[], ", NAMES_PAGE)
    + f"""
CREATE OR REPLACE FUNCTION eventhex_newest_position()
RETURNS TABLE (tx_id bigint, id bigint)
{SETTINGS.format(volatility="VOLATILE")}
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    {HORIZON}
    SELECT e.tx_id, e.id FROM eventhex_event e
    WHERE {READABLE}
    ORDER BY e.tx_id DESC, e.id DESC
    LIMIT 1;
END
$$;

CREATE OR REPLACE FUNCTION eventhex_load_stream(
    in_tenant text, in_category text, in_stream uuid, in_start integer, in_stop integer)
RETURNS TABLE (
    kind integer, id bigint, stream_name varchar, stream_version bigint, uuid uuid,
    name varchar, data jsonb, context jsonb, created_at timestamptz, version integer)
{SETTINGS.format(volatility="STABLE")}
AS $$
#variable_conflict use_column
DECLARE
    stream_row record;
    snap record;
BEGIN
    SELECT st.id, st.name, st.version INTO stream_row FROM eventhex_stream st
    WHERE st.tenant_id = in_tenant AND st.category = in_category AND st.uuid = in_stream;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT p.uuid, p.name, p.data, p.context, p.created_at, p.version INTO snap
    FROM eventhex_snapshot p
    WHERE p.stream_id = stream_row.id
      AND (in_start IS NULL OR p.version >= in_start)
      AND (in_stop IS NULL OR p.version < in_stop)
    ORDER BY p.version DESC
    LIMIT 1;
    RETURN QUERY SELECT 0, 0::bigint, stream_row.name::varchar, stream_row.version::bigint,
        snap.uuid::uuid, snap.name::varchar, snap.data::jsonb, snap.context::jsonb,
        snap.created_at::timestamptz, snap.version::integer;
    IF snap.uuid IS NOT NULL THEN
        RETURN QUERY{_stream_events(AFTER_SNAPSHOT, "e.version")};
    ELSIF stream_row.version IS NOT NULL THEN  -- one event per version: the index's order
        RETURN QUERY{_stream_events(IN_RANGE, "e.version")};
    ELSE  -- an unversioned stream's events have no version: the caller picks its range
        RETURN QUERY{_stream_events(IN_RANGE, "e.version, e.id")};
    END IF;
END
$$;
"""
)

DROP = """
DROP FUNCTION IF EXISTS eventhex_load_stream(text, text, uuid, integer, integer);
DROP FUNCTION IF EXISTS eventhex_newest_position();
DROP FUNCTION IF EXISTS eventhex_read_names(text[], bigint, bigint, integer);
DROP FUNCTION IF EXISTS eventhex_read_category(text, bigint, bigint, integer);
DROP FUNCTION IF EXISTS eventhex_read_all(bigint, bigint, integer);
"""


def create_functions(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_functions(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("eventhex", "0007_outbox_stream_runs")]

    operations = [
        migrations.RemoveConstraint(model_name="stream", name="eventhex_stream_name_uniq"),
        migrations.AddConstraint(
            model_name="stream",
            constraint=models.UniqueConstraint(
                condition=models.Q(name__isnull=False),
                fields=("tenant_id", "category", "name"),
                name="eventhex_stream_name_uniq",
            ),
        ),
        migrations.RunPython(create_functions, drop_functions, elidable=False),
    ]
