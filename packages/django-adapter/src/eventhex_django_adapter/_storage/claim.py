"""Claiming a stream row for an append: the SQL, written once for every path.

:class:`~eventhex_core_ports._internal.stream_claim.StreamClaim` works out the version a stream must
be at for an append to claim it (``claim.version``); this module claims the row in SQL, so that no
other append can claim the stream at that version:

* ``new`` (the stream must not exist, ``claim.version == 0``): insert-if-new, an
  ``INSERT ... ON CONFLICT DO NOTHING``;
* ``existing`` (the stream must be at version N > 0): compare-and-set, an ``UPDATE`` of the row's
  version to the append's new version where it is still N;
* ``any`` (an unversioned append, ``claim.version is None``): both, and whichever touches a row
  claims the stream (the ``UPDATE`` then matches an unversioned row only).

Each statement returns the claimed row's id, or no row when the stream could not be claimed,
which is never an error: the caller finds out why (:mod:`.stream_rows`). The same statements
run inside PostgreSQL's one-statement append (:func:`claim_ctes`, behind its check that no event
uuid is stored yet), on their own on SQLite, and on the slow path of both (:func:`claim_row`).
"""

from typing import Literal

from django.db import connections
from event_sourcery import StreamId

from eventhex_core_ports._internal.stream_claim import StreamClaim
from eventhex_django_adapter._codec import category_of
from eventhex_django_adapter.models import Stream

__all__ = ["ClaimKind", "claim_ctes", "claim_kind", "claim_parameters", "claim_row", "insert_row"]

ClaimKind = Literal["new", "existing", "any"]

_INSERT = """INSERT INTO eventhex_stream (uuid, name, category, tenant_id, version)
    SELECT {stream}, {stream_name}, {category}, {tenant}, {stream_version}
    WHERE {guard}
    ON CONFLICT DO NOTHING
    RETURNING id"""

_UPDATE = """UPDATE eventhex_stream
    SET version = {stream_version}, name = COALESCE(name, {stream_name})
    WHERE tenant_id = {tenant} AND category = {category} AND uuid = {stream}
      AND {version_matches} AND {guard}
    RETURNING id"""

_TYPED = {
    "stream": "%(stream)s::uuid",
    "stream_name": "%(stream_name)s::text",
    "category": "%(category)s::text",
    "tenant": "%(tenant)s::text",
    "stream_version": "%(stream_version)s::bigint",
    "expected": "%(expected)s::bigint",
}
"""PostgreSQL's placeholders: typed, since a prepared statement cannot infer every type."""

_PLAIN = {name: f"%({name})s" for name in _TYPED}

_CLAIMED = {
    "new": "SELECT id FROM inserted",
    "existing": "SELECT id FROM updated",
    "any": "SELECT id FROM inserted UNION ALL SELECT id FROM updated",
}


_RETURNING = "\n    RETURNING id"
"""Dropped, with :data:`_CHANGED_ROW` read instead, where SQLite is older than 3.35."""

_CHANGED_ROW = f"""SELECT id FROM eventhex_stream
    WHERE tenant_id = {_PLAIN["tenant"]} AND category = {_PLAIN["category"]}
      AND uuid = {_PLAIN["stream"]} AND changes() = 1"""


def claim_kind(version: int | None) -> ClaimKind:
    """How a stream that must be at ``version`` (``StreamClaim.version``) is claimed."""
    return "any" if version is None else "new" if version == 0 else "existing"


def _insert(placeholders: dict[str, str], guard: str) -> str:
    return _INSERT.format(guard=guard, **placeholders)


def _update(placeholders: dict[str, str], kind: ClaimKind, guard: str) -> str:
    matches = "version IS NULL" if kind == "any" else f"version = {placeholders['expected']}"
    return _UPDATE.format(version_matches=matches, guard=guard, **placeholders)


def claim_ctes(kind: ClaimKind, guard: str) -> list[str]:
    """PostgreSQL's claim as data-modifying CTEs; ``s`` holds the claimed row's id, if any.

    Args:
        kind: How the stream is claimed.
        guard: A condition that must hold for anything to be claimed.
    """
    ctes = []
    if kind != "existing":
        ctes.append(f"inserted AS (\n    {_insert(_TYPED, guard)}\n)")
    if kind != "new":
        ctes.append(f"updated AS (\n    {_update(_TYPED, kind, guard)}\n)")
    return [*ctes, f"s AS ({_CLAIMED[kind]})"]


def claim_parameters(
    vendor: str, tenant_id: str, stream_id: StreamId, version: int | None, new_version: int | None
) -> dict[str, str | int | None]:
    """The parameters of the claim statements, for a database of ``vendor``.

    Args:
        vendor: Django's name of the database (``postgresql`` or ``sqlite``).
        tenant_id: The tenant whose stream is claimed.
        stream_id: The stream.
        version: The version the stream must be at (``StreamClaim.version``).
        new_version: The stream's version once claimed.
    """
    return {
        "stream": str(stream_id) if vendor == "postgresql" else stream_id.hex,
        "stream_name": stream_id.name,
        "category": category_of(stream_id),
        "tenant": tenant_id,
        "stream_version": new_version,
        "expected": version,
    }


def claim_row(alias: str, tenant_id: str, claim: StreamClaim) -> Stream | None:
    """Claim the stream of ``claim`` with one statement each way; ``None``: not claimed."""
    kind = claim_kind(claim.version)
    return _claim(alias, tenant_id, claim.stream_id, claim.version, claim.new_version, kind)


def insert_row(
    alias: str, tenant_id: str, stream_id: StreamId, version: int | None
) -> Stream | None:
    """Insert the stream row at ``version`` (insert-if-new); ``None`` when it exists already."""
    return _claim(alias, tenant_id, stream_id, 0, version, "new")


def _claim(
    alias: str,
    tenant_id: str,
    stream_id: StreamId,
    version: int | None,
    new_version: int | None,
    kind: ClaimKind,
) -> Stream | None:
    connection = connections[alias]
    params = claim_parameters(connection.vendor, tenant_id, stream_id, version, new_version)
    placeholders = _TYPED if connection.vendor == "postgresql" else _PLAIN
    statements = []
    if kind != "existing":
        statements.append(_insert(placeholders, "TRUE"))
    if kind != "new":
        statements.append(_update(placeholders, kind, "TRUE"))
    returning = connection.features.can_return_columns_from_insert
    with connection.cursor() as cursor:
        for sql in statements:
            if returning:
                cursor.execute(sql, params)
            else:  # SQLite before 3.35: the row is read back when the statement changed it
                cursor.execute(sql.removesuffix(_RETURNING), params)
                cursor.execute(_CHANGED_ROW, params)
            found = cursor.fetchone()
            if found is not None:
                return _stream(alias, tenant_id, stream_id, found[0], new_version)
    return None


def _stream(
    alias: str, tenant_id: str, stream_id: StreamId, pk: int, version: int | None
) -> Stream:
    """The claimed row, as the append goes on to use it (no query)."""
    stream = Stream(
        pk=pk,
        uuid=stream_id,
        name=stream_id.name,
        category=category_of(stream_id),
        tenant_id=tenant_id,
        version=version,
    )
    stream._state.adding, stream._state.db = False, alias
    return stream
