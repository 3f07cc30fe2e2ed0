"""Migration operations whose SQL ``sqlmigrate`` prints.

The adapter's PostgreSQL SQL lives in ``migrations/sql/<migration>/*.sql`` files, so a DBA reads
exactly what will run, and ``manage.py sqlmigrate eventhex 0001`` prints every statement. Other
databases (SQLite) need none of it: :class:`RunPostgreSQL` does nothing there, like Django's own
PostgreSQL-only operations (``CreateExtension``). :class:`DropCoveredIndex` drops an index that
another one already serves, without blocking writers on PostgreSQL.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

__all__ = ["DropCoveredIndex", "RunPostgreSQL", "sql_file"]

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


class DropCoveredIndex(Operation):
    """Drop the index ``name`` on ``table`` (``columns``), which a wider index already covers.

    Only the database changes: pair it with the model state's change in
    ``SeparateDatabaseAndState``. On PostgreSQL the index is dropped (and, backwards, built)
    ``CONCURRENTLY``, so writers and readers of a large table are not locked out while it
    happens; the migration must then be ``atomic = False``. ``IF EXISTS`` / ``IF NOT EXISTS``
    make a migration that stopped half-way safe to run again.
    """

    reversible = True
    reduces_to_sql = True

    def __init__(self, table: str, name: str, columns: Sequence[str]) -> None:
        self.table = table
        self.name = name
        self.columns = list(columns)

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        """The model state is the caller's (``SeparateDatabaseAndState``)."""

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        quote = schema_editor.quote_name
        schema_editor.execute(
            f"DROP INDEX{_concurrently(schema_editor)} IF EXISTS {quote(self.name)}"
        )

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        quote = schema_editor.quote_name
        columns = ", ".join(quote(column) for column in self.columns)
        schema_editor.execute(
            f"CREATE INDEX{_concurrently(schema_editor)} IF NOT EXISTS {quote(self.name)} "
            f"ON {quote(self.table)} ({columns})"
        )

    def describe(self) -> str:
        return f"Drop index {self.name} on {self.table}: a wider index covers it"


def _concurrently(schema_editor: BaseDatabaseSchemaEditor) -> str:
    return " CONCURRENTLY" if schema_editor.connection.vendor == "postgresql" else ""
