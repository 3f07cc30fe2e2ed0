"""PostgreSQL triggers that subscriptions rely on; other databases are untouched.

Stamping: a row-level BEFORE INSERT trigger sets eventhex_event.tx_id to the inserting
transaction's id. The column default from 0001 does not apply when the ORM inserts an explicit
NULL, and reads in commit order are only correct if every row carries its real transaction id,
whatever code inserted it.

Waking: a statement-level AFTER INSERT trigger on eventhex_event calls
pg_notify('eventhex_events', ''); PostgreSQL delivers it when the appending transaction
commits (never on rollback) and folds duplicates within one transaction, so listeners get one
wake-up per appending commit. The storage code knows about neither trigger. No model state
changes (SQLite and other databases are untouched), so makemigrations --check stays clean.
"""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

CREATE = """
CREATE OR REPLACE FUNCTION eventhex_stamp_tx_id() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.tx_id := pg_current_xact_id()::text::bigint;
    RETURN NEW;
END;
$$;
DROP TRIGGER IF EXISTS eventhex_event_tx_id ON eventhex_event;
CREATE TRIGGER eventhex_event_tx_id
    BEFORE INSERT ON eventhex_event
    FOR EACH ROW EXECUTE FUNCTION eventhex_stamp_tx_id();
CREATE OR REPLACE FUNCTION eventhex_notify_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('eventhex_events', '');
    RETURN NULL;
END;
$$;
DROP TRIGGER IF EXISTS eventhex_event_notify ON eventhex_event;
CREATE TRIGGER eventhex_event_notify
    AFTER INSERT ON eventhex_event
    FOR EACH STATEMENT EXECUTE FUNCTION eventhex_notify_events();
"""

DROP = """
DROP TRIGGER IF EXISTS eventhex_event_tx_id ON eventhex_event;
DROP FUNCTION IF EXISTS eventhex_stamp_tx_id();
DROP TRIGGER IF EXISTS eventhex_event_notify ON eventhex_event;
DROP FUNCTION IF EXISTS eventhex_notify_events();
"""


def create_trigger(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_trigger(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("eventhex", "0001_initial")]

    operations = [migrations.RunPython(create_trigger, drop_trigger, elidable=False)]
