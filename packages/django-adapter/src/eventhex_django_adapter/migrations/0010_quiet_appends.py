"""Appends that send no notification: ``DjangoConfig(notifications=False)``.

The statement triggers of migrations 0002 and 0003 call ``pg_notify`` once per appending
statement, and PostgreSQL serializes the commits of transactions that have notified (they queue
their notifications under one lock at commit). With many concurrent writers that costs
throughput. An append of a backend configured with ``notifications=False`` sets
``eventhex.notify`` to ``off`` for its transaction (``set_config(..., true)``), and both
triggers then skip ``pg_notify``: subscribers and relays find its events by polling.
"""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor


def _notifier(function: str, channel: str, quiet: bool) -> str:
    check = "current_setting('eventhex.notify', true) IS DISTINCT FROM 'off'"
    body = (
        f"IF {check} THEN\n        PERFORM pg_notify('{channel}', '');\n    END IF;"
        if quiet
        else f"PERFORM pg_notify('{channel}', '');"
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


def _replace(quiet: bool) -> str:
    return _notifier("eventhex_notify_events", "eventhex_events", quiet) + _notifier(
        "eventhex_notify_outbox", "eventhex_outbox", quiet
    )


def may_be_quiet(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_replace(quiet=True))


def always_notify(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_replace(quiet=False))


class Migration(migrations.Migration):
    dependencies = [("eventhex", "0009_append_uuid_check")]

    operations = [migrations.RunPython(may_be_quiet, always_notify, elidable=False)]
