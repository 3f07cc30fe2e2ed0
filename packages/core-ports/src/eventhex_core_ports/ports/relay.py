"""Ports of the outbox relay: where messages come from and where they go.

event_sourcery's own outbox port is driven from inside the application process. A relay that runs
as its own process, scaled by running more copies, needs more from the outbox: claims under a
lease, batched acknowledgements, retry times, a dead-letter state and statistics. Those are the
:class:`OutboxSource` port. The other side is the :class:`Publisher` port, one per broker.

Delivery is at least once. Every message carries its event's uuid, which consumers use as the
idempotency key, and its :attr:`OutboxMessage.partition_key`, which names its stream.

Per-stream order is kept by the source, the publisher and the relay together.
:meth:`OutboxSource.claim` takes of each stream a run of consecutive entries, in entry order (its
oldest alive entry and those right after it), and nothing of a stream while one of its entries
is leased (by anyone, including the claimer) or waiting for a retry; so two relays never hold
parts of one stream at once. A :class:`Publisher` delivers a stream's messages in the order
given and sends nothing of a stream after one of its messages failed. The relay acknowledges a
stream's messages up to its first failed one, charges that one an attempt, and releases the
rest uncharged: they are claimed again after it. A dead-lettered entry stops blocking its stream
(the entries after it flow on); replaying it puts it back as pending, and it is then delivered
after whatever of its stream is still unacknowledged ahead of it in id order, if anything.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

_EVENT_VERSION_KEY = "event_version"
"""``eventhex_core_ports.upcasting.EVENT_VERSION_KEY`` (ports sit below that module)."""

__all__ = [
    "OutboxMessage",
    "OutboxSource",
    "OutboxSourceUnusable",
    "OutboxStats",
    "PublishOutcome",
    "Publisher",
    "PublisherUnavailable",
]


@dataclasses.dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One outbox entry as a relay sees it: the event plus its delivery bookkeeping.

    Attributes:
        entry_id: The source's id of the entry; pass it back to acknowledge or fail it.
        event_uuid: The event's uuid, the consumers' idempotency key.
        event_name: The event's registered name.
        stream_uuid: The uuid of the event's stream.
        stream_name: The stream's name, if it is a named stream.
        stream_category: The stream's category ("" when none).
        tenant_id: The tenant the event belongs to ("" for the default tenant).
        version: The event's version in its stream (None for unversioned streams).
        position: The event's position in the store (opaque, increasing in commit order).
        created_at: When the event was created (timezone-aware, UTC).
        data: The serialized event payload.
        context: The serialized event context (correlation, causation, components).
        attempts: Failed publishing attempts so far.
        max_attempts: Failed attempts after which the entry is dead-lettered.
        last_error: The error of the latest failed attempt ("" when none).
    """

    entry_id: int
    event_uuid: UUID
    event_name: str
    stream_uuid: UUID
    stream_name: str | None
    stream_category: str
    tenant_id: str
    version: int | None
    position: int
    created_at: datetime
    data: Mapping[str, Any]
    context: Mapping[str, Any]
    attempts: int = 0
    max_attempts: int = 3
    last_error: str = ""

    @property
    def correlation_id(self) -> str | None:
        """The correlation id from the event context, if any."""
        value = self.context.get("correlation_id")
        return None if value is None else str(value)

    @property
    def causation_id(self) -> str | None:
        """The causation id from the event context, if any."""
        value = self.context.get("causation_id")
        return None if value is None else str(value)

    @property
    def event_version(self) -> int:
        """The schema version the event was stored with (``__event_version__``; 1 when the
        context does not say). The relay publishes payloads as stored, never upcast: consumers
        upcast by this version (see ``docs/schema-evolution.md``)."""
        value = self.context.get(_EVENT_VERSION_KEY, 1)
        return value if type(value) is int else 1

    @property
    def partition_key(self) -> str:
        """The stream, as ``tenant:category:uuid``: the broker partition or routing key."""
        return f"{self.tenant_id}:{self.stream_category}:{self.stream_uuid}"

    def as_payload(self) -> dict[str, Any]:
        """The message body every publisher sends, ready for ``json.dumps``."""
        return {
            "event_uuid": str(self.event_uuid),
            "event_name": self.event_name,
            "stream_uuid": str(self.stream_uuid),
            "stream_name": self.stream_name,
            "stream_category": self.stream_category,
            "tenant_id": self.tenant_id,
            "version": self.version,
            "event_version": self.event_version,
            "position": str(self.position),
            "created_at": self.created_at.isoformat(),
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "partition_key": self.partition_key,
            "data": dict(self.data),
            "context": dict(self.context),
        }


@dataclasses.dataclass(frozen=True, slots=True)
class OutboxStats:
    """A snapshot of an outbox.

    Attributes:
        pending: Entries waiting to be claimed, including those waiting for a retry.
        in_flight: Entries held under an unexpired lease.
        dead: Dead-lettered entries.
        oldest_age: Age of the oldest entry that is not dead (None when there is none).
    """

    pending: int
    in_flight: int
    dead: int
    oldest_age: timedelta | None


class OutboxSource(abc.ABC):
    """An outbox that several relays drain at once.

    A relay identifies itself by an ``owner`` id, unique per running relay. It claims entries under
    a lease; while the lease holds, no other owner can claim them. A crashed relay's entries come
    back when the lease expires. Implementations are safe to use from several threads.
    """

    @abc.abstractmethod
    def claim(self, owner: str, limit: int, lease: timedelta) -> list[OutboxMessage]:
        """Claim up to ``limit`` due entries for ``owner`` until ``lease`` from now.

        An entry is due when it is not dead, not under an unexpired lease and its next attempt
        time (if any) has come. The claim takes the oldest due entries of streams none of whose
        entries is under an unexpired lease or waiting for its next attempt: of each stream a
        run of consecutive entries, starting at its oldest live entry.

        Returns:
            The claimed messages, in entry order.
        """

    @abc.abstractmethod
    def acknowledge(self, entry_ids: Sequence[int]) -> int:
        """Remove delivered entries, whoever holds them now.

        Returns:
            How many entries were removed (ids already gone are ignored).
        """

    @abc.abstractmethod
    def retry_later(self, owner: str, entry_id: int, error: str, next_attempt_at: datetime) -> bool:
        """Count a failed attempt, keep ``error`` and release the entry until ``next_attempt_at``.

        Returns:
            False, changing nothing, when ``owner`` no longer holds the entry.
        """

    @abc.abstractmethod
    def dead_letter(self, owner: str, entry_id: int, error: str) -> bool:
        """Count a failed attempt and move the entry to the dead letters with ``error``.

        Returns:
            False, changing nothing, when ``owner`` no longer holds the entry.
        """

    @abc.abstractmethod
    def release(self, owner: str, entry_ids: Sequence[int] | None = None) -> int:
        """Give back entries without counting an attempt (all that ``owner`` holds when None).

        Returns:
            How many entries were released.
        """

    @abc.abstractmethod
    def wait_for_entries(self, timeout: float) -> bool:
        """Block until new entries may be there, or ``timeout`` seconds pass.

        Returns:
            True when woken by a notification, False on timeout. Either way the caller claims
            again: a False return does not mean nothing is due (retries come due silently).
        """

    @abc.abstractmethod
    def stats(self) -> OutboxStats:
        """Count pending, in-flight and dead entries and measure the oldest one's age."""

    @abc.abstractmethod
    def dead_letters(self, limit: int = 100, after_id: int = 0) -> list[OutboxMessage]:
        """List dead-lettered entries with id > ``after_id``, in entry order.

        ``attempts`` and ``last_error`` of each message tell why it died.
        """

    @abc.abstractmethod
    def replay_dead_letters(self, entry_ids: Sequence[int] | None = None) -> int:
        """Put dead-lettered entries (all when None) back as pending with zero attempts.

        Returns:
            How many entries were re-queued.
        """

    @abc.abstractmethod
    def purge_dead_letters(self, entry_ids: Sequence[int] | None = None) -> int:
        """Delete dead-lettered entries (all when None) for good.

        Returns:
            How many entries were deleted.
        """

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release connections the source holds."""


class OutboxSourceUnusable(Exception):
    """The outbox cannot work until someone acts (its tables are not migrated, say): a relay
    stops on it with its message instead of retrying. Transient failures (the database is
    down) are any other exception, which a relay retries."""


class PublisherUnavailable(Exception):
    """The broker cannot be reached; nothing of the batch counts as a failed attempt.

    The relay acknowledges what ``delivered`` names (each stream up to its first message not
    delivered), releases the rest of the batch and tries again after a pause. Errors caused by
    a message itself are reported per message in :class:`PublishOutcome` instead.

    Args:
        reason: What went wrong.
        delivered: Entry ids the broker accepted before the connection failed.
    """

    def __init__(self, reason: str, delivered: Sequence[int] = ()) -> None:
        super().__init__(reason)
        self.delivered = list(delivered)


@dataclasses.dataclass(frozen=True, slots=True)
class PublishOutcome:
    """What happened to one message of a batch.

    Attributes:
        entry_id: The message's ``entry_id``.
        delivered: True when the broker accepted the message.
        error: Why it was not delivered ("" when delivered).
        attempted: False for a message the publisher did not send because an earlier message
            of its stream in the same batch failed. The relay gives it back without charging an
            attempt; the source hands it out again only after that earlier message (its
            stream's order). Meaningless when ``delivered``.
    """

    entry_id: int
    delivered: bool
    error: str = ""
    attempted: bool = True


class Publisher(abc.ABC):
    """Sends messages to one broker destination."""

    @abc.abstractmethod
    def publish(self, messages: Sequence[OutboxMessage]) -> list[PublishOutcome]:
        """Publish a batch and wait until the broker has accepted (or refused) each message.

        A batch holds runs of consecutive messages of each stream. Messages of one stream are
        sent in the order given; once one of them fails, the later ones of that stream are not
        sent where the publisher can tell in time (they are reported ``attempted=False``).
        Messages of different streams may go in any order, or at once. The publisher reports
        what the broker did with each message; the relay keeps the stream order: it
        acknowledges a stream's messages only up to its first failure and gives back the rest
        uncharged, whatever was reported of them.

        Returns:
            One outcome per message, in the order given.

        Raises:
            PublisherUnavailable: The broker could not be reached at all.
        """

    def keep_alive(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Called while the relay waits for entries, at most once per poll interval.

        A publisher that holds a broker connection may answer the broker's heartbeats here, so
        that a quiet relay keeps its connection. It must return at once and never raise for a
        broken connection (the next :meth:`publish` deals with that).
        """

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Close the broker connection."""
