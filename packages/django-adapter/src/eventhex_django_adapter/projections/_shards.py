"""Shards and versions: the checkpoint rows one projection class runs as.

A projection with ``shards = N`` runs as N rows, one per shard, each with its own checkpoint and
owner. An event belongs to shard ``low16(stream uuid) % N``: the stream uuid's last 16 bits,
which Python and SQL (PostgreSQL and SQLite alike) compute the same way on every version, so a
stream's events always land in one shard and keep their order there.

A projection with ``version = V > 1`` runs beside its older versions under separate rows
(blue/green): see ``_versions``.
"""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db.models import Expression, F, Func, IntegerField

from eventhex_django_adapter.projections._projection import Projection

__all__ = ["ShardOf", "Unit", "row_name", "shard_of", "units_of"]

SHARD_BITS = 0xFFFF
"""The stream uuid bits that pick the shard (the last four hex digits)."""


def shard_of(stream_uuid: UUID, shards: int) -> int:
    """The shard of ``shards`` a stream's events belong to."""
    return (stream_uuid.int & SHARD_BITS) % shards


def row_name(name: str, version: int = 1, shard: int = 0, shards: int = 1) -> str:
    """The checkpoint row's name: ``name``, then ``@vV`` after version 1, ``#K/N`` if sharded."""
    versioned = name if version == 1 else f"{name}@v{version}"
    return versioned if shards == 1 else f"{versioned}#{shard}/{shards}"


@dataclass(frozen=True)
class Unit:
    """One shard of one version of a projection: what a runner claims and works on.

    Attributes:
        projection: The projection (shared by its shards).
        shard: This unit's shard, 0 to ``shards - 1``.
        row: The name of its checkpoint row.
    """

    projection: Projection
    shard: int
    row: str

    @property
    def shards(self) -> int:
        """How many shards the projection has."""
        return self.projection.shards

    @property
    def version(self) -> int:
        """The projection's version."""
        return self.projection.version

    def selects(self, stream_uuid: UUID) -> bool:
        """Whether events of this stream are this unit's."""
        return self.shards == 1 or shard_of(stream_uuid, self.shards) == self.shard


def units_of(projection: Projection) -> list[Unit]:
    """The units of a projection, shard by shard."""
    count = projection.shards
    return [
        Unit(projection, shard, row_name(projection.name, projection.version, shard, count))
        for shard in range(count)
    ]


class ShardOf(Func):
    """``shard_of`` in SQL, over a uuid column (``ShardOf("stream__uuid", 8)``)."""

    output_field = IntegerField()

    def __init__(self, stream_uuid: str | Expression, shards: int, **extra: Any) -> None:
        if not isinstance(shards, int) or shards < 1:
            raise ValueError(f"shards must be an integer >= 1, got {shards!r}")
        self.shards = shards
        column = F(stream_uuid) if isinstance(stream_uuid, str) else stream_uuid
        super().__init__(column, **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = f"((('x' || right(%(expressions)s::text, 4))::bit(16)::int) %%%% {self.shards})"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # A uuid is stored as 32 hex digits; SQLite has no hex parser, so each of the last
        # four digits is looked up in a string of the sixteen.
        digits = " + ".join(
            f"(instr('0123456789abcdef', lower(substr(%(expressions)s, {29 + i}, 1))) - 1)"
            f" * {16 ** (3 - i)}"
            for i in range(4)
        )
        template = f"(({digits}) %%%% {self.shards})"
        return self.as_sql(compiler, connection, template=template, **extra)
