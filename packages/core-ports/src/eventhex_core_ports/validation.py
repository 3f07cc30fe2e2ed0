"""The input rules every eventhex adapter enforces, identically, before it writes or reads.

Identifiers (checked on every append, snapshot, read and deletion, and when a backend is scoped
for a tenant):

* a stream **name** is ``None`` (an unnamed stream) or 1 to 255 characters;
* a **category** is ``None`` or up to 255 characters (``""`` is the same as ``None``);
* a **tenant id** is a string of up to 255 characters (``""`` is the default tenant);
* an **event name** is 1 to 255 characters.

None of them may contain a NUL character (``"\\x00"``) or an unpaired surrogate
(``"\\ud800"``): PostgreSQL cannot store either in a text column. Any other text is stored
verbatim, quotes, semicolons and SQL keywords included: adapters pass identifiers only as bound
parameters.

Payloads (an event's ``data`` and ``context``, and a snapshot's) must be plain JSON: objects
with string keys, arrays, strings, finite numbers, booleans and ``null``; strings follow the same
NUL and surrogate rule (PostgreSQL's ``jsonb`` rejects both). Their encoded size, compact UTF-8
JSON of ``data`` plus that of ``context``, must not exceed the adapter's ``max_event_bytes``.

Event uuids identify events across the whole store: no two events of one append may share a
uuid (checked here, before any statement), and no appended event may carry the uuid of an event
already stored, in any stream or tenant (each adapter checks that while it writes, and raises
:class:`DuplicateEventUuid` too). Versioning is checked first: an append whose expected version
is wrong raises ``ConcurrentStreamWriteError`` whatever its uuids.

Event versions continue the stream: an append with ``expected_version=N`` carries versions
``N + 1, N + 2, ...`` in order, one per event (what ``EventStore.append`` gives plain events and
event_sourcery's ``Repository`` gives an aggregate's), and an unversioned append
(``NO_VERSIONING``) carries none. Anything else, such as a ``WrappedEvent`` built with
``version=1`` appended with ``expected_version=1``, raises :class:`InvalidEventVersions`, so no
stream ever holds two events with one version. :func:`check_event_versions` needs no storage,
but adapters report it last, after the versioning and stored-uuid checks: those tell a caller
that its view of the stream is stale or that it re-appended an event, which it must fix first.

Every rule raises a subclass of :class:`InvalidInput` (itself a ``ValueError``) whose message
names the offending value and says how to fix it; nothing is written when one fails.
"""

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from event_sourcery import StreamId
from event_sourcery.event import EventRegistry, RawEvent
from event_sourcery.exceptions import EventStoreException, IllegalCategoryName, IllegalTenantId
from event_sourcery.interfaces import Versioning

__all__ = [
    "DEFAULT_MAX_EVENT_BYTES",
    "MAX_IDENTIFIER_LENGTH",
    "DuplicateEventUuid",
    "EventTooLarge",
    "ExplainingEventRegistry",
    "InvalidEventData",
    "InvalidEventName",
    "InvalidEventVersions",
    "InvalidInput",
    "InvalidStreamCategory",
    "InvalidStreamName",
    "InvalidTenantId",
    "UnknownEventName",
    "check_event",
    "check_event_versions",
    "check_events",
    "check_stream_id",
    "check_tenant_id",
    "check_unique_uuids",
    "encode_checked_event",
]

MAX_IDENTIFIER_LENGTH = 255
"""The longest stream name, category, tenant id or event name (the width of their columns)."""

DEFAULT_MAX_EVENT_BYTES = 1024 * 1024
"""The default payload limit: 1 MiB of JSON per event (data plus context)."""


class InvalidInput(EventStoreException, ValueError):
    """An identifier or payload breaks the rules of :mod:`eventhex_core_ports.validation`."""


class InvalidStreamName(InvalidInput):
    """A stream name is empty, too long or contains a character the database cannot store."""


class InvalidStreamCategory(InvalidInput, IllegalCategoryName):
    """A category is too long or contains a character the database cannot store."""


class InvalidTenantId(InvalidInput, IllegalTenantId):
    """A tenant id is not a string, is too long or contains a forbidden character."""


class InvalidEventName(InvalidInput):
    """An event name is empty, too long or contains a forbidden character."""


class InvalidEventData(InvalidInput):
    """An event's data or context is not plain JSON that the database can store."""


class EventTooLarge(InvalidEventData):
    """An event's encoded data and context exceed the configured ``max_event_bytes``."""


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
    """An append's event versions do not continue the stream from its expected version.

    A versioned append with ``expected_version=N`` must carry versions ``N + 1`` to ``N + k``
    for its k events, in order; an unversioned one (``NO_VERSIONING``) must carry ``None``. The
    whole append is rolled back: no event, no stream change, no outbox row. Inside the caller's
    transaction only the append is undone; the transaction stays usable.

    Attributes:
        stream_id: The stream the append was for.
        expected_version: The append's expected version; ``None`` for ``NO_VERSIONING``.
        versions: The versions the append's events carried, in order.
        required: The versions they had to carry.
    """

    def __init__(
        self, stream_id: StreamId, expected_version: int | None, versions: Iterable[int | None]
    ) -> None:
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.versions = tuple(versions)
        self.required = _required_versions(expected_version, len(self.versions))
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
        return _rebuild_versions, (parts, self.expected_version, self.versions)


def _rebuild_versions(
    stream: tuple[UUID, str | None, str | None],
    expected_version: int | None,
    versions: tuple[int | None, ...],
) -> InvalidEventVersions:
    uuid, name, category = stream
    stream_id = StreamId(uuid=uuid, name=name, category=category)
    return InvalidEventVersions(stream_id, expected_version, versions)


def _required_versions(expected_version: int | None, count: int) -> tuple[int | None, ...]:
    """The versions ``count`` events appended with ``expected_version`` must carry."""
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


class ExplainingEventRegistry(EventRegistry):
    """event_sourcery's ``EventRegistry`` whose failed lookups raise :class:`UnknownEventName`."""

    def type_for_name(self, name: str) -> Any:
        """The event class registered under ``name``.

        Raises:
            UnknownEventName: No class is registered under ``name``.
        """
        found = self._names_to_types.get(name)  # every read asks: skip the miss handling
        if found is not None:
            return found
        try:
            return super().type_for_name(name)
        except KeyError:
            raise UnknownEventName(name) from None


def _text_problem(value: str) -> str | None:
    if "\x00" in value:
        return "contains a NUL character (\\x00), which PostgreSQL cannot store"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate, which is not valid UTF-8"
    return None


def _identifier_problem(value: object, *, empty_allowed: bool) -> str | None:
    if not isinstance(value, str):
        return f"must be a string, got {type(value).__name__}"
    if not value and not empty_allowed:
        return "must not be empty"
    if len(value) > MAX_IDENTIFIER_LENGTH:
        return f"is {len(value)} characters long; the limit is {MAX_IDENTIFIER_LENGTH}"
    return _text_problem(value)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def check_tenant_id(tenant_id: object) -> None:
    """Check a tenant id.

    Raises:
        InvalidTenantId: ``tenant_id`` breaks the identifier rules.
    """
    problem = _identifier_problem(tenant_id, empty_allowed=True)
    if problem:
        raise InvalidTenantId(
            f"Tenant id {_shown(tenant_id)} {problem}. Use a string of at most "
            f"{MAX_IDENTIFIER_LENGTH} characters without NUL characters ('' for the default)."
        )


def check_stream_id(stream_id: StreamId) -> None:
    """Check a stream id's name and category.

    Raises:
        InvalidStreamName: The name breaks the identifier rules.
        InvalidStreamCategory: The category breaks the identifier rules.
    """
    if stream_id.name is not None:
        problem = _identifier_problem(stream_id.name, empty_allowed=False)
        if problem:
            raise InvalidStreamName(
                f"Stream name {_shown(stream_id.name)} {problem}. Use 1 to "
                f"{MAX_IDENTIFIER_LENGTH} characters without NUL characters, or name=None "
                "for an unnamed stream."
            )
    if stream_id.category is not None:
        problem = _identifier_problem(stream_id.category, empty_allowed=True)
        if problem:
            raise InvalidStreamCategory(
                f"Stream category {_shown(stream_id.category)} {problem}. Use at most "
                f"{MAX_IDENTIFIER_LENGTH} characters without NUL characters, or None."
            )


def _json_problem(value: Any, path: str) -> str | None:
    kind = type(value)
    if value is None or kind is bool or kind is int:
        return None
    if kind is float:
        return None if math.isfinite(value) else f"{path} is {value!r}, which JSON cannot hold"
    if isinstance(value, str):
        problem = _text_problem(value)
        return f"{path} {problem}" if problem else None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path} has the key {key!r}, which is not a string"
            problem = _text_problem(key)
            if problem:
                return f"{path} has a key that {problem}"
            problem = _json_problem(item, f"{path}[{key!r}]")
            if problem:
                return problem
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            problem = _json_problem(item, f"{path}[{index}]")
            if problem:
                return problem
        return None
    return f"{path} is a {kind.__name__}, which is not a JSON value"


def _compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def check_event(event: RawEvent, max_event_bytes: int) -> None:
    """Check one raw event (or snapshot): its name, stream id and payload.

    Raises:
        InvalidEventName: The event name breaks the identifier rules.
        InvalidEventData: Its data or context is not plain JSON the database can store.
        EventTooLarge: Its data and context encode to more than ``max_event_bytes``.
    """
    encode_checked_event(event, max_event_bytes)


def encode_checked_event(event: RawEvent, max_event_bytes: int) -> tuple[str, str]:
    """Check an event like :func:`check_event` and return its data and context as compact JSON.

    The size check has to encode the payload anyway; adapters that send JSON text to their
    database reuse the result instead of encoding it a second time.
    """
    problem = _identifier_problem(event.name, empty_allowed=False)
    if problem:
        raise InvalidEventName(
            f"Event name {_shown(event.name)} {problem}. Set a shorter __event_name__ on the "
            f"event class (1 to {MAX_IDENTIFIER_LENGTH} characters, no NUL characters)."
        )
    check_stream_id(event.stream_id)
    for label, value in (("data", event.data), ("context", event.context)):
        problem = _json_problem(value, label)
        if problem:
            raise InvalidEventData(
                f"Event {event.name!r} ({event.uuid}) cannot be stored: {problem}. Give the "
                "event fields that serialise to plain JSON (strings without NUL characters, "
                "finite numbers, lists, objects with string keys)."
            )
    data, context = _compact_json(event.data), _compact_json(event.context)
    size = len(data.encode("utf-8")) + len(context.encode("utf-8"))
    if size > max_event_bytes:
        raise EventTooLarge(
            f"Event {event.name!r} ({event.uuid}) is {size} bytes of JSON; the limit is "
            f"{max_event_bytes} (max_event_bytes). Store large content elsewhere and keep a "
            "reference in the event, or raise max_event_bytes in the backend's config."
        )
    return data, context


def check_unique_uuids(events: Sequence[RawEvent]) -> None:
    """Check that no two events of one append share a uuid.

    Raises:
        DuplicateEventUuid: Some uuids appear more than once (``already_stored`` is ``False``).
    """
    if len({event.uuid for event in events}) == len(events):
        return
    seen: set[UUID] = set()
    repeated: dict[UUID, None] = {}
    for event in events:
        if event.uuid in seen:
            repeated[event.uuid] = None
        seen.add(event.uuid)
    raise DuplicateEventUuid(repeated, events[0].stream_id, already_stored=False)


def check_event_versions(
    stream_id: StreamId, versioning: Versioning, events: Sequence[RawEvent]
) -> None:
    """Check that an append's event versions continue the stream from its expected version.

    Needs no storage; adapters call it once the stream is known to be at the expected version
    (see the module docstring for why).

    Raises:
        InvalidEventVersions: The versions are not ``expected_version + 1, + 2, ...`` (or not
            all ``None`` for ``NO_VERSIONING``).
    """
    expected = versioning.expected_version
    versions = tuple(event.version for event in events)
    if versions != _required_versions(expected, len(events)):
        raise InvalidEventVersions(stream_id, expected, versions)


def check_events(events: Sequence[RawEvent], max_event_bytes: int) -> list[tuple[str, str]]:
    """Check every event of an append before anything is written.

    Raises:
        DuplicateEventUuid: Two events of the append share a uuid.
        InvalidInput: An event breaks another rule (see :func:`check_event`).

    Returns:
        Each event's data and context as compact JSON (see :func:`encode_checked_event`).
    """
    check_unique_uuids(events)
    return [encode_checked_event(event, max_event_bytes) for event in events]
