"""Migration operations that install the adapter's PostgreSQL SQL where ``sqlmigrate`` prints it.

The SQL lives in ``migrations/sql/<migration>/*.sql`` files, so a DBA reads exactly what will run,
and ``manage.py sqlmigrate eventhex 0001`` prints every statement. Other databases (SQLite) need
none of it: :class:`RunPostgreSQL` does nothing there, like Django's own PostgreSQL-only
operations (``CreateExtension``).
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import ProjectState

__all__ = ["RunPostgreSQL", "sql_file"]

_SQL_DIR = Path(__file__).parent / "migrations" / "sql"


def sql_file(path: str) -> str:
    """The text of ``migrations/sql/<path>``, a script of one or more statements."""
    return (_SQL_DIR / path).read_text(encoding="utf-8")


class RunPostgreSQL(migrations.RunSQL):
    """``RunSQL`` that runs on PostgreSQL only; each item of ``sql`` is sent as one script."""

    def __init__(self, sql: Sequence[str], reverse_sql: Sequence[str], **kwargs: Any) -> None:
        super().__init__(list[Any](sql), list[Any](reverse_sql), elidable=False, **kwargs)

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self) -> str:
        return "Install eventhex's PostgreSQL functions and triggers (PostgreSQL only)"
