"""The errors eventhex raises (event_sourcery's own errors pass through unchanged).

* :class:`BackendNotConfigured`: a backend was used before the part it needs was configured.
* :class:`InvalidInput` (a ``ValueError``) and its subclasses reject bad input before anything
  is written: the rules are stated once in the concepts page ("Input rules"), and every adapter
  checks them identically. Adapters raise :class:`DuplicateEventUuid` and
  :class:`InvalidEventVersions` themselves as well, from what they find while they write.
* :class:`UnknownEventName` (a ``KeyError``): a stored event's name matches no registered class.
* :class:`UndecodableEvent` (a ``ValueError``): a stored row cannot be read back (written outside
  eventhex's checks); only the read that reaches it fails.

Every message names the offending value and says how to fix it; the errors that carry attributes
keep them through pickling.
"""

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from event_sourcery import StreamId
from event_sourcery.exceptions import (
    EventStoreException,
    IllegalCategoryName,
    IllegalTenantId,
    NoProviderConfigured,
)

__all__ = [
    "AppendTooLarge",
    "BackendNotConfigured",
    "DuplicateEventUuid",
    "EventTooLarge",
    "InvalidEventData",
    "InvalidEventName",
    "InvalidEventVersions",
    "InvalidInput",
    "InvalidStreamCategory",
    "InvalidStreamName",
    "InvalidTenantId",
    "InvalidUpcaster",
    "StoredJsonUnreadable",
    "UndecodableEvent",
    "UnknownEventName",
    "UnreachableEventVersion",
    "UnstableEventName",
]


class BackendNotConfigured(NoProviderConfigured):
    """A backend was used before the part it needs was configured.

    The message names the missing part and the call that supplies it. Subclasses
    event_sourcery's ``NoProviderConfigured`` so existing ``except`` clauses keep working.
    """


class InvalidInput(EventStoreException, ValueError):
    """An identifier or payload breaks the input rules (the concepts page, "Input rules")."""


class InvalidStreamName(InvalidInput):
    """A stream name is empty, too long or contains a character the database cannot store."""


class InvalidStreamCategory(InvalidInput, IllegalCategoryName):
    """A category is too long or contains a character the database cannot store."""


class InvalidTenantId(InvalidInput, IllegalTenantId):
    """A tenant id is not a string, is too long or contains a forbidden character."""


class InvalidEventName(InvalidInput):
    """An event name is empty, too long or contains a forbidden character."""


class UnstableEventName(InvalidEventName):
    """An event name derived from a module that exists only in one process (``__main__``, a shell).

    event_sourcery names a class without ``__event_name__`` ``module.QualifiedName``. A class
    defined in a script, ``python -c``, a notebook or ``manage.py shell`` gets a module name that
    no other process has, so no other process could read events stored under it.

    Attributes:
        name: The refused event name.
        module: The unstable module it starts with.
    """

    def __init__(self, name: str, module: str) -> None:
        self.name = name
        self.module = module
        qualname = name[len(module) + 1 :]
        class_name = qualname.rsplit(".", 1)[-1]
        super().__init__(
            f"{class_name}'s event name {name!r} comes from module {module!r}, which exists "
            "only in the process that defined the class (a script, a notebook or a shell); "
            "events stored under it cannot be read by other processes, so nothing was stored. "
            f"Set __event_name__ = 'myapp.{qualname}' on the class (a name of your own that "
            "never changes) and define it in an importable module."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.name, self.module)


class InvalidEventData(InvalidInput):
    """An event's data or context is not plain JSON that the database can store."""


class EventTooLarge(InvalidEventData):
    """An event's encoded data and context exceed the configured ``max_event_bytes``."""


class AppendTooLarge(InvalidInput):
    """One append carries more events, or more bytes in all, than the configured limits."""


class DuplicateEventUuid(InvalidInput):
    """An append carries an event uuid that is already stored, or repeats one within itself.

    The whole append is rolled back: no event, no stream change, no outbox row. Inside the
    caller's transaction only the append is undone; the transaction stays usable.

    Attributes:
        uuids: The offending event uuids.
        stream_id: The stream the append was for.
        already_stored: ``True`` when the uuids belong to stored events, ``False`` when they
            repeat within the append.
    """

    def __init__(self, uuids: Iterable[UUID], stream_id: StreamId, *, already_stored: bool) -> None:
        self.uuids = tuple(uuids)
        self.stream_id = stream_id
        self.already_stored = already_stored
        listed = ", ".join(str(uuid) for uuid in self.uuids)
        plural = len(self.uuids) > 1
        problem = (
            f"{'are' if plural else 'is'} already stored"
            if already_stored
            else f"{'appear' if plural else 'appears'} more than once in the append"
        )
        super().__init__(
            f"Event uuid{'s' if plural else ''} {listed} {problem}; the append to "
            f"{_stream_label(stream_id)} wrote nothing. Each event needs a fresh uuid; "
            "WrappedEvent.wrap gives one — do not append the same WrappedEvent twice."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        stream = self.stream_id
        parts = (UUID(int=stream.int), stream.name, stream.category)
        return _rebuild_duplicate, (self.uuids, parts, self.already_stored)


def _rebuild_duplicate(
    uuids: tuple[UUID, ...], stream: tuple[UUID, str | None, str | None], already_stored: bool
) -> DuplicateEventUuid:
    uuid, name, category = stream
    stream_id = StreamId(uuid=uuid, name=name, category=category)
    return DuplicateEventUuid(uuids, stream_id, already_stored=already_stored)


class InvalidEventVersions(InvalidInput):
    """An append's event versions do not continue the stream (the rule: the guarantees page,
    "Appends"); the message names the versions required.

    The whole append is rolled back: no event, no stream change, no outbox row. Inside the
    caller's transaction only the append is undone; the transaction stays usable.

    Attributes:
        stream_id: The stream the append was for.
        expected_version: The append's expected version; ``None`` for ``NO_VERSIONING``.
        versions: The versions the append's events carried, in order.
        stream_version: For an append with ``expected_version=0``, the stream's version when it
            was checked (0 for a new stream); ``None`` otherwise.
        required: The versions they had to carry.
    """

    def __init__(
        self,
        stream_id: StreamId,
        expected_version: int | None,
        versions: Iterable[int | None],
        stream_version: int | None = None,
    ) -> None:
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.versions = tuple(versions)
        self.stream_version = stream_version
        continues_from = (stream_version or 0) if expected_version == 0 else expected_version
        self.required = _required_versions(continues_from, len(self.versions))
        given = f"carry {_versions_text(self.versions)}"
        if expected_version is None:
            problem = (
                f"Events appended to {_stream_label(stream_id)} without versioning "
                f"(NO_VERSIONING) must carry version None; they {given}"
            )
            fix = (
                "Wrap them with version=None, or pass an expected_version to append to a "
                "versioned stream."
            )
        elif expected_version == 0:
            problem = (
                f"Events appended to {_stream_label(stream_id)} without an expected version "
                f"(expected_version=0) must continue the stream from its version "
                f"{continues_from}: they must carry {_versions_text(self.required)}; they {given}"
            )
            fix = (
                "Number them from the stream's current version (load the stream first), or "
                "pass that version as expected_version and append Event objects."
            )
        else:
            problem = (
                f"Events appended to {_stream_label(stream_id)} with "
                f"expected_version={expected_version} must carry "
                f"{_versions_text(self.required)}; they {given}"
            )
            fix = (
                "Append Event objects and the event store numbers them, or give the n-th "
                "WrappedEvent of the append version=expected_version + n."
            )
        super().__init__(f"{problem}, so the append wrote nothing. {fix}")

    def __reduce__(self) -> tuple[Any, ...]:
        stream = self.stream_id
        parts = (UUID(int=stream.int), stream.name, stream.category)
        return _rebuild_versions, (
            parts,
            self.expected_version,
            self.versions,
            self.stream_version,
        )


def _rebuild_versions(
    stream: tuple[UUID, str | None, str | None],
    expected_version: int | None,
    versions: tuple[int | None, ...],
    stream_version: int | None = None,
) -> InvalidEventVersions:
    uuid, name, category = stream
    stream_id = StreamId(uuid=uuid, name=name, category=category)
    return InvalidEventVersions(stream_id, expected_version, versions, stream_version)


def _required_versions(expected_version: int | None, count: int) -> tuple[int | None, ...]:
    """The versions ``count`` events appended with ``expected_version`` must carry.

    The rule ``StreamClaim`` applies (:mod:`eventhex_core_ports._internal.stream_claim`), written
    here as the error's message states it.
    """
    if expected_version is None:
        return (None,) * count
    return tuple(range(expected_version + 1, expected_version + 1 + count))


def _versions_text(versions: Sequence[int | None], shown: int = 8) -> str:
    first = versions[0] if versions else None
    if (
        len(versions) > 2
        and isinstance(first, int)
        and tuple(versions) == tuple(range(first, first + len(versions)))
    ):
        return f"versions {first} to {versions[-1]}"
    listed = ", ".join(str(version) for version in versions[:shown])
    more = f", ... ({len(versions)} in all)" if len(versions) > shown else ""
    return f"version{'s' if len(versions) > 1 else ''} {listed}{more}"


def _stream_label(stream_id: StreamId) -> str:
    parts = [] if stream_id.name is None else [f"name {_shown(stream_id.name)}"]
    if stream_id.category:
        parts.append(f"category {_shown(stream_id.category)}")
    return f"stream {stream_id}" + (f" ({', '.join(parts)})" if parts else "")


def _shown(value: object) -> str:
    """``value``'s repr, cut to 60 characters, for a message."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


class UnknownEventName(EventStoreException, KeyError):
    """A stored event's name matches no registered event class (still a ``KeyError``)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return (
            f"No event class is registered under the name {self.name!r}. Define an Event "
            f"subclass whose __event_name__ (or module.QualifiedName) is {self.name!r} and "
            "import it before reading, or add it with backend[EventRegistry].add(EventClass)."
        )


class UndecodableEvent(EventStoreException, ValueError):
    """A stored event that cannot be read back, e.g. JSON nested deeper than Python decodes.

    eventhex never writes such an event (payloads nest at most 100 levels), so it came from
    outside its checks: raw SQL, an import, an older version. Only the read that reaches it
    fails: a stream load raises for that stream, a subscription raises at that event (after
    delivering the events before it), and the outbox dead-letters its entry.

    Attributes:
        reason: What is wrong with it.
        event_uuid: The event's uuid, when it could be read.
        stream_id: Its stream, when known.
        name: The stored event name, when known.
        position: Its position (subscriptions), when known.
        shown_position: The position as people read it (``"725:1234"`` on PostgreSQL).
    """

    def __init__(
        self,
        reason: str,
        *,
        event_uuid: UUID | None = None,
        stream_id: StreamId | None = None,
        name: str | None = None,
        position: int | None = None,
        shown_position: str | None = None,
    ) -> None:
        self.reason = reason
        self.event_uuid = event_uuid
        self.stream_id = stream_id
        self.name = name
        self.position = position
        self.shown_position = shown_position
        super().__init__(self._message())

    def _message(self) -> str:
        parts = [f"Stored event {self.name!r}" if self.name is not None else "A stored event"]
        if self.event_uuid is not None:
            parts.append(str(self.event_uuid))
        if self.position is not None:
            parts.append(f"at position {self.shown_position or self.position}")
        if self.stream_id is not None:
            category = f"{self.stream_id.category}/" if self.stream_id.category else ""
            parts.append(f"in stream {category}{self.stream_id.name or ''} ({self.stream_id})")
        return (
            f"{' '.join(parts)} cannot be read: {self.reason}. It was written outside "
            "eventhex's checks (raw SQL, an import, an older version): repair or delete that "
            "row (eventhex stores no payload nested deeper than 100 levels)."
        )

    def at(
        self,
        *,
        position: int | None = None,
        shown_position: str | None = None,
        event_uuid: UUID | None = None,
        stream_id: StreamId | None = None,
        name: str | None = None,
    ) -> "UndecodableEvent":
        """The same error, with whatever it lacked filled in from the caller's knowledge."""
        return UndecodableEvent(
            self.reason,
            event_uuid=self.event_uuid or event_uuid,
            stream_id=self.stream_id or stream_id,
            name=self.name if self.name is not None else name,
            position=self.position if self.position is not None else position,
            shown_position=self.shown_position or shown_position,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        fields = dict(self.__dict__)
        stream = fields.pop("stream_id")  # a StreamId pickles as its bare uuid
        parts = None if stream is None else (stream.uuid, stream.name, stream.category)
        return _rebuild, (fields, parts)


def _rebuild(fields: dict[str, Any], stream: tuple[Any, Any, Any] | None) -> UndecodableEvent:
    stream_id = None
    if stream is not None:
        stream_id = StreamId(uuid=stream[0], name=stream[1], category=stream[2])
    return UndecodableEvent(fields.pop("reason"), stream_id=stream_id, **fields)


class StoredJsonUnreadable(ValueError):
    """Stored JSON text that cannot be decoded without recursing too deeply (see
    :func:`eventhex_core_ports._internal.stored_json.loads_stored`)."""


class InvalidUpcaster(EventStoreException, ValueError):
    """A rename, an upcaster or an ``__event_version__`` that cannot work as registered."""


class UnreachableEventVersion(EventStoreException, KeyError):
    """A stored event's version has no chain of upcasters to its class's current version."""

    def __init__(self, name: str, stored: object, current: int, *, missing: int | None) -> None:
        super().__init__(name)
        self.name, self.stored, self.current, self.missing = name, stored, current, missing

    def __str__(self) -> str:
        if self.missing is None:
            return (
                f"An event {self.name!r} was stored at version {self.stored!r}, but the class "
                f"registered under that name is at version {self.current}: it was written by a "
                "newer release. Deploy the release that defines that version before reading it."
            )
        return (
            f"An event {self.name!r} was stored at version {self.stored}, and its class is at "
            f"version {self.current}, but no upcaster turns version {self.missing} into "
            f"{self.missing + 1}. Register one with @upcaster({self.name!r}, "
            f"from_version={self.missing}) from eventhex_core_ports.upcasting."
        )
