"""The append's duplicate-uuid check, with a plan that does not depend on statistics.

Before claiming a stream, the append statement (``_storage/append_sql.py``) makes sure none of
its events' uuids is stored yet. Written as a join against the events table, PostgreSQL planned
it from the table's statistics: on a table not analyzed since its last burst of writes (a new
deployment, a bulk import) that was a sequential scan of every stored event for every append,
most of an append's time on the server and growing with the table. The check now calls
``eventhex_uuids_stored(uuids)``, which looks each uuid up in the unique index on
``eventhex_event.uuid`` whatever the statistics say (the fixed-plan settings of migration 0008;
ADR 0015). PL/pgSQL keeps the plan for the session.
"""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

CREATE = """
CREATE OR REPLACE FUNCTION eventhex_uuids_stored(candidates uuid[])
RETURNS boolean
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET jit = off
AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM eventhex_event e WHERE e.uuid = ANY (candidates));
END
$$;
"""

DROP = "DROP FUNCTION IF EXISTS eventhex_uuids_stored(uuid[]);"


def create_function(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_function(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("eventhex", "0008_read_plans")]

    operations = [migrations.RunPython(create_function, drop_function, elidable=False)]
