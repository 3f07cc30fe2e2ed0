"""Quiet appends silence only themselves, whatever else their transaction appends.

Migration 0010 let a quiet append (``DjangoConfig(notifications=False)``) switch
``eventhex.notify`` off with ``set_config(..., true)``, which lasts until the end of the
transaction: a normal append after a quiet one in the same ``transaction.atomic()`` sent no
notification either, and caught-up subscribers and relays waited for their next poll.

Now each notify trigger has a switch of its own (``eventhex.quiet_events``,
``eventhex.quiet_outbox``) with two values:

* ``once``: the appending statement sets it before it inserts, and the trigger that fires at the
  end of that statement skips ``pg_notify`` and clears it, so the next statement notifies again
  (the one-statement append of :mod:`eventhex_django_adapter._storage.append_sql`, which sets
  the outbox switch only when it inserts outbox rows, so that the outbox trigger fires);
* ``held``: the trigger skips ``pg_notify`` and leaves it set, until the appender clears it
  (the slow path, which inserts through the ORM in several statements).

A statement that fails takes its setting with it: ``set_config(..., true)`` in a savepoint is
undone when the savepoint rolls back. ``eventhex.notify`` is no longer read.
"""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor


def _notifier(function: str, channel: str, switch: str | None) -> str:
    body = (
        f"PERFORM pg_notify('{channel}', '');"
        if switch is None
        else f"""CASE current_setting('{switch}', true)
        WHEN 'once' THEN
            PERFORM set_config('{switch}', '', true);
        WHEN 'held' THEN
            NULL;
        ELSE
            PERFORM pg_notify('{channel}', '');
    END CASE;"""
    )
    return f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    {body}
    RETURN NULL;
END;
$$;
"""


QUIET_PER_APPEND = _notifier(
    "eventhex_notify_events", "eventhex_events", "eventhex.quiet_events"
) + _notifier("eventhex_notify_outbox", "eventhex_outbox", "eventhex.quiet_outbox")
"""The notify triggers' functions, each skipping ``pg_notify`` while its switch is set."""

QUIET_PER_TRANSACTION = """
CREATE OR REPLACE FUNCTION eventhex_notify_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('eventhex.notify', true) IS DISTINCT FROM 'off' THEN
        PERFORM pg_notify('eventhex_events', '');
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION eventhex_notify_outbox() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('eventhex.notify', true) IS DISTINCT FROM 'off' THEN
        PERFORM pg_notify('eventhex_outbox', '');
    END IF;
    RETURN NULL;
END;
$$;
"""
"""Migration 0010's functions, restored when this migration is reversed."""


def quiet_per_append(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(QUIET_PER_APPEND)


def quiet_per_transaction(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(QUIET_PER_TRANSACTION)


class Migration(migrations.Migration):
    dependencies = [("eventhex", "0010_quiet_appends")]

    operations = [migrations.RunPython(quiet_per_append, quiet_per_transaction, elidable=False)]
