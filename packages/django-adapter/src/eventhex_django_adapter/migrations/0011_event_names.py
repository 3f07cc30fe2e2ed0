"""The distinct stored event names, by a loose index scan with a fixed plan (PostgreSQL).

``SELECT DISTINCT name`` reads every event; on 10,000,000 events that is seconds of I/O for a
few dozen names. ``eventhex_event_names()`` walks ``eventhex_event_name_idx`` (``name, tx_id,
id``) from one name to the next instead: each step is one index probe for the first name
greater than the last one found, so it costs one probe per distinct name, whatever the number
of events. Declared with the fixed planner settings of 0008, so no statistics (stale after a
burst of writes) can turn a probe into a scan. ``manage.py eventhex_event_names`` and the
``eventhex.W301`` check call it. SQLite keeps ``SELECT DISTINCT`` (no function to call).
"""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

CREATE_EVENT_NAMES = """
CREATE OR REPLACE FUNCTION eventhex_event_names() RETURNS SETOF text
LANGUAGE sql STABLE
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET jit = off
AS $$
WITH RECURSIVE names(name) AS (
    (SELECT e.name FROM eventhex_event e ORDER BY e.name LIMIT 1)
    UNION ALL
    SELECT (SELECT e.name FROM eventhex_event e WHERE e.name > names.name
            ORDER BY e.name LIMIT 1)
    FROM names WHERE names.name IS NOT NULL
)
SELECT name FROM names WHERE name IS NOT NULL
$$;
"""

DROP_EVENT_NAMES = "DROP FUNCTION IF EXISTS eventhex_event_names();"


def create_function(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_EVENT_NAMES)


def drop_function(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_EVENT_NAMES)


class Migration(migrations.Migration):
    dependencies = [("eventhex", "0010_quiet_appends")]

    operations = [migrations.RunPython(create_function, drop_function, elidable=False)]
