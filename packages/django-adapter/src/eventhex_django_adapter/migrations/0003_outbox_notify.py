"""PostgreSQL: wake outbox relays when outbox entries are written; other databases untouched.

A statement-level AFTER INSERT trigger on eventhex_outboxentry calls
pg_notify('eventhex_outbox', ''). PostgreSQL delivers it when the appending transaction commits
(never on rollback) and folds duplicates within a transaction, so a relay waiting in LISTEN gets
one wake-up per appending commit.

It also leaves 30% of each table page free (fillfactor 70): a relay's claim rewrites the row's
claim columns, none of them indexed, so with room on the page PostgreSQL updates in place (HOT)
instead of adding an entry to every index. No model state changes, so makemigrations --check
stays clean.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION eventhex_notify_outbox() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('eventhex_outbox', '');
    RETURN NULL;
END;
$$;
DROP TRIGGER IF EXISTS eventhex_outbox_notify ON eventhex_outboxentry;
CREATE TRIGGER eventhex_outbox_notify
    AFTER INSERT ON eventhex_outboxentry
    FOR EACH STATEMENT EXECUTE FUNCTION eventhex_notify_outbox();
ALTER TABLE eventhex_outboxentry SET (fillfactor = 70);
"""

DROP = """
DROP TRIGGER IF EXISTS eventhex_outbox_notify ON eventhex_outboxentry;
DROP FUNCTION IF EXISTS eventhex_notify_outbox();
ALTER TABLE eventhex_outboxentry RESET (fillfactor);
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("eventhex", "0002_subscriptions")]

    operations = [migrations.RunPython(create_trigger, drop_trigger, elidable=False)]
