"""The position clock: how PostgreSQL stamps ``tx_id``, and its rebase after a move (ADR 0010).

A position encodes (``tx_id``, event id) (see :mod:`._codec`). ``tx_id`` is the writing
transaction's id plus the store's *shift* (``migrations/sql/0001/position_clock.sql``), which
is raised when the database finds itself on another cluster, so positions keep growing across
a ``pg_dump``/``pg_restore``. SQL that stamps or reads uses :data:`TX_ID_SQL` and
:data:`SHIFT_SQL`; nothing else in the adapter knows about the shift.
SQLite has no clock: its positions are event ids.
"""

from dataclasses import dataclass

from django.db import connections, transaction

__all__ = [
    "SHIFT_SQL",
    "TX_ID_SQL",
    "PositionClock",
    "check_positions",
    "position_clock",
    "transaction_tx_id",
]

SHIFT_SQL = "eventhex_position_shift()"
"""The store's shift; a session's first call checks (and when needed rebases) the clock."""

TX_ID_SQL = "eventhex_tx_id()"
"""The current transaction's ``tx_id``: its transaction id plus the shift."""


def transaction_tx_id(alias: str) -> int | None:
    """The ``tx_id`` the current transaction stamps on events; ``None`` on SQLite."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {TX_ID_SQL}")
        row = cursor.fetchone()
    return int(row[0])


@dataclass(frozen=True)
class PositionClock:
    """What a PostgreSQL store knows about its positions (``eventhex_position_state()``).

    Attributes:
        shift: Added to every transaction id to make a ``tx_id``.
        stored_system_identifier: The cluster the shift was last checked on (``None``: not yet).
        system_identifier: This cluster's (``None`` when the role may not read it).
        next_xid: The next transaction id this cluster hands out.
        newest_tx_id: The largest stored ``tx_id`` (``None``: no events).
        moved: The system identifier differs from the stored one.
        behind: New transactions would stamp a ``tx_id`` at or below the largest stored one.
    """

    shift: int
    stored_system_identifier: int | None
    system_identifier: int | None
    next_xid: int
    newest_tx_id: int | None
    moved: bool
    behind: bool

    @property
    def needs_rebase(self) -> bool:
        """Whether the first append or read (or ``manage.py eventhex_rebase``) will rebase."""
        return self.moved or self.behind


def position_clock(alias: str) -> PositionClock | None:
    """Read the clock without changing anything; ``None`` on SQLite."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM eventhex_position_state()")
        row = cursor.fetchone()
    return PositionClock(*row)


def check_positions(alias: str, force: bool = False) -> int | None:
    """Check the clock and rebase it if the database moved (committed); the shift after.

    ``None`` on SQLite. Appends and reads do the same on a session's first use; this is
    ``manage.py eventhex_rebase``.

    Args:
        alias: The database alias.
        force: Rebase even though the clock looks right (after restoring a physical backup to
            an earlier point); PostgreSQL refuses while other sessions are connected.
    """
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return None
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.execute("SELECT eventhex_check_positions(%s)", [force])
        row = cursor.fetchone()
    return int(row[0])
