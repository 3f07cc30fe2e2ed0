"""The input rules every eventhex adapter enforces, identically, before it writes or reads.

Identifiers (checked on every append, snapshot, read and deletion, and when a backend is scoped
for a tenant):

* a stream **name** is ``None`` (an unnamed stream) or 1 to 255 characters;
* a **category** is ``None`` or up to 255 characters (``""`` is the same as ``None``);
* a **tenant id** is a string of up to 255 characters (``""`` is the default tenant);
* an **event name** is 1 to 255 characters, and does not start with one of the
  :data:`UNSTABLE_EVENT_MODULES` followed by a dot (:class:`UnstableEventName`): those are the
  names event_sourcery derives for a class without ``__event_name__`` defined in a script, a
  notebook or a shell, which no other process could read back. Classes in test modules are
  allowed: a test module is importable, so its names are stable for as long as the module is.

None of them may contain a NUL character (``"\\x00"``) or an unpaired surrogate
(``"\\ud800"``): PostgreSQL cannot store either in a text column. Any other text is stored
verbatim, quotes, semicolons and SQL keywords included: adapters pass identifiers only as bound
parameters.

Payloads (an event's ``data`` and ``context``, and a snapshot's) must be plain JSON: objects
with string keys, arrays, strings, finite numbers, booleans and ``null``; strings follow the same
NUL and surrogate rule (PostgreSQL's ``jsonb`` rejects both). Their encoded size, compact UTF-8
JSON of ``data`` plus that of ``context``, must not exceed the adapter's ``max_event_bytes``,
and they may nest arrays and objects at most :data:`MAX_JSON_DEPTH` levels deep (checked without
recursion, so a hostile payload cannot exhaust the stack). One append may carry at most
``max_append_events`` events and ``max_append_bytes`` of payload in all (:class:`AppendTooLarge`).

Event uuids identify events across the whole store: no two events of one append may share a
uuid (checked here, before any statement), and no appended event may carry the uuid of an event
already stored, in any stream or tenant (each adapter checks that while it writes, and raises
:class:`DuplicateEventUuid` too). Versioning is checked first: an append whose expected version
is wrong raises ``ConcurrentStreamWriteError`` whatever its uuids.

Event versions continue the stream (the rule: docs/guarantees.md, "Appends"), checked by
:class:`~eventhex_core_ports._internal.stream_claim.StreamClaim`, not here.

Every rule raises a subclass of :class:`InvalidInput` (itself a ``ValueError``) whose message
names the offending value and says how to fix it; nothing is written when one fails.

The error classes live in :mod:`eventhex_core_ports.errors`.
"""

import json
import math
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from event_sourcery import StreamId
from event_sourcery.event import RawEvent

from eventhex_core_ports.errors import (
    AppendTooLarge,
    DuplicateEventUuid,
    EventTooLarge,
    InvalidEventData,
    InvalidEventName,
    InvalidStreamCategory,
    InvalidStreamName,
    InvalidTenantId,
    UnstableEventName,
    _shown,
)

__all__ = [
    "DEFAULT_MAX_APPEND_BYTES",
    "DEFAULT_MAX_APPEND_EVENTS",
    "DEFAULT_MAX_EVENT_BYTES",
    "JSON_SCALARS",
    "MAX_IDENTIFIER_LENGTH",
    "MAX_JSON_DEPTH",
    "UNSTABLE_EVENT_MODULES",
    "check_event",
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

DEFAULT_MAX_APPEND_BYTES = 64 * 1024 * 1024
"""The default limit on one append's payloads: 64 MiB of JSON in all.

PostgreSQL cannot send more than 256 MiB in one JSON value, and an append is one statement."""

DEFAULT_MAX_APPEND_EVENTS = 10_000
"""The default limit on the number of events in one append."""

MAX_JSON_DEPTH = 100
"""The deepest nesting of arrays and objects a payload may have (the payload itself is level 1)."""

UNSTABLE_EVENT_MODULES = (
    "__main__",
    "__mp_main__",
    "builtins",
    "django.core.management.commands.shell",
)
"""Modules whose names exist only in one process: a script or ``python -c`` (``__main__``,
``__mp_main__`` in multiprocessing children), IPython and Jupyter (``__main__``), code run by
``exec`` without a module (``builtins``) and ``manage.py shell -c`` (Django's shell command)."""

_UNSTABLE_PREFIXES = tuple(f"{module}." for module in UNSTABLE_EVENT_MODULES)


def _text_problem(value: str) -> str | None:
    if "\x00" in value:
        return "contains a NUL character (\\x00), which PostgreSQL cannot store"
    if value.isascii():  # ASCII has no surrogates: no need to encode
        return None
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


def _json_problem(value: Any, label: str) -> str | None:
    """What makes ``value`` not plain JSON, or ``None``; checked without recursion.

    Containers are walked depth first with an explicit stack, so a deeply nested payload costs
    no Python stack and the first problem in document order is reported. Each stack entry keeps
    its parent and its key, and the problem's path is spelled out only when there is one.
    """
    stack: list[tuple[Any, int, Any, int]] = [(value, -1, None, 1)]  # value, parent, key, depth
    trail: list[tuple[int, Any]] = []  # (parent, key) of every container entered, for paths
    while stack:
        item, parent, key, depth = stack.pop()
        kind = type(item)
        if item is None or kind is bool or kind is int:
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                return f"{_path(label, trail, parent, key)} is {item!r}, which JSON cannot hold"
            continue
        if isinstance(item, int):  # an int subclass (an IntEnum) is written as its number
            continue
        if isinstance(item, str):
            problem = _text_problem(item)
            if problem:
                return f"{_path(label, trail, parent, key)} {problem}"
            continue
        if not isinstance(item, dict | list):
            path = _path(label, trail, parent, key)
            return f"{path} is a {kind.__name__}, which is not a JSON value"
        if depth > MAX_JSON_DEPTH:
            return (
                f"{_path(label, trail, parent, key)} is nested {depth} levels deep; the limit is "
                f"{MAX_JSON_DEPTH}"
            )
        trail.append((parent, key))
        here = len(trail) - 1
        if isinstance(item, dict):
            for child_key in item:
                if not isinstance(child_key, str):
                    path = _path(label, trail, parent, key)
                    return f"{path} has the key {child_key!r}, which is not a string"
                problem = _text_problem(child_key)
                if problem:
                    return f"{_path(label, trail, parent, key)} has a key that {problem}"
            stack.extend((child, here, k, depth + 1) for k, child in reversed(item.items()))
        else:
            stack.extend((item[i], here, i, depth + 1) for i in range(len(item) - 1, -1, -1))
    return None


def _path(label: str, trail: list[tuple[int, Any]], parent: int, key: Any) -> str:
    """``label[k1][k2]...`` for the value at ``key`` under container ``parent`` of ``trail``."""
    keys = []
    while parent >= 0:
        keys.append(key)
        parent, key = trail[parent]
    return label + "".join(f"[{k!r}]" for k in reversed(keys))


JSON_SCALARS = frozenset({str, int, float, bool, type(None)})
"""The exact types of JSON's scalars in Python (subclasses may encode as something else)."""

_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_COMPACT_FINITE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
"""``json.dumps`` with these options builds an encoder per call; these are built once."""

_PLAIN_CONTEXT_JSON = '{"correlation_id":null,"causation_id":null}'
"""The stored context of an event without ids, components or other fields: most events'."""


def _compact_json(value: Any) -> str:
    return _COMPACT.encode(value)


def _plain_json(value: Any) -> str | None:
    """``value`` as compact JSON when it is plain JSON by a quick test, else ``None``.

    The quick test: the text encodes without error and without NaN or infinities, decodes back
    to an equal value (so no key was turned into a string and nothing but lists, objects,
    strings, numbers, booleans and null went in), holds no NUL character, no unpaired
    surrogate, and too few brackets to nest past ``MAX_JSON_DEPTH``. ``None`` sends the value
    to :func:`_json_problem`, which finds (and words) the problem, or passes it.
    """
    try:
        text = _COMPACT_FINITE.encode(value)
        if not text.isascii():  # an unpaired surrogate fails here (ASCII has none)
            text.encode("utf-8")
    except (TypeError, ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        return None
    if "\\u0000" in text:
        return None
    if _flat(value):  # decodes back to an equal value by construction: no need to try
        return text
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH or json.loads(text) != value:
        return None
    return text


def _context_json(context: Any) -> str | None:
    """:func:`_plain_json` of a context, without encoding the plain context every time."""
    if (
        type(context) is dict
        and len(context) == 2
        and next(iter(context)) == "correlation_id"
        and context.get("correlation_id", 0) is None
        and context.get("causation_id", 0) is None
    ):
        return _PLAIN_CONTEXT_JSON
    return _plain_json(context)


def _flat(value: Any) -> bool:
    """Whether ``value`` is a dict of string keys to strings, numbers, booleans and nulls
    (exact types: a subclass may encode as something else), as most payloads and contexts are.

    Such a dict encodes to JSON that decodes back to an equal dict (``allow_nan`` refused the
    floats that would not), so :func:`_plain_json` skips decoding it again.
    """
    if type(value) is not dict:
        return False
    scalars = JSON_SCALARS
    return all(type(key) is str and type(item) in scalars for key, item in value.items())


def check_event(event: RawEvent, max_event_bytes: int) -> None:
    """Check one raw event (or snapshot): its name, stream id and payload.

    Raises:
        InvalidEventName: The event name breaks the identifier rules.
        UnstableEventName: The event name comes from a module only this process has.
        InvalidEventData: Its data or context is not plain JSON the database can store.
        EventTooLarge: Its data and context encode to more than ``max_event_bytes``.
    """
    encode_checked_event(event, max_event_bytes)


def encode_checked_event(event: RawEvent, max_event_bytes: int) -> tuple[str, str]:
    """Check an event like :func:`check_event` and return its data and context as compact JSON.

    The size check has to encode the payload anyway; adapters that send JSON text to their
    database reuse the result instead of encoding it a second time.
    """
    data, context, _ = _encode_checked(event, max_event_bytes)
    return data, context


def _encode_checked(event: RawEvent, max_event_bytes: int) -> tuple[str, str, int]:
    """:func:`encode_checked_event`, and the payload's size in bytes."""
    _check_name(event.name)
    check_stream_id(event.stream_id)
    return _encode_payload(event, max_event_bytes)


def _check_name(name: str) -> None:
    """Check an event name (see :func:`check_event`)."""
    problem = _identifier_problem(name, empty_allowed=False)
    if problem:
        raise InvalidEventName(
            f"Event name {_shown(name)} {problem}. Set a shorter __event_name__ on the "
            f"event class (1 to {MAX_IDENTIFIER_LENGTH} characters, no NUL characters)."
        )
    if name.startswith(_UNSTABLE_PREFIXES):
        module = next(m for m in UNSTABLE_EVENT_MODULES if name.startswith(f"{m}."))
        raise UnstableEventName(name, module)


def _encode_payload(event: RawEvent, max_event_bytes: int) -> tuple[str, str, int]:
    """An event's data and context as checked compact JSON, and their size in bytes."""
    data, context = _plain_json(event.data), _context_json(event.context)
    if data is None or context is None:
        for label, value in (("data", event.data), ("context", event.context)):
            problem = _json_problem(value, label)
            if problem:
                raise InvalidEventData(
                    f"Event {event.name!r} ({event.uuid}) cannot be stored: {problem}. Give "
                    "the event fields that serialise to plain JSON (strings without NUL "
                    "characters, finite numbers, lists, objects with string keys, nested at "
                    f"most {MAX_JSON_DEPTH} levels deep)."
                )
        data, context = _compact_json(event.data), _compact_json(event.context)
    size = _utf8_size(data) + _utf8_size(context)
    if size > max_event_bytes:
        raise EventTooLarge(
            f"Event {event.name!r} ({event.uuid}) is {size} bytes of JSON; the limit is "
            f"{max_event_bytes} (max_event_bytes). Store large content elsewhere and keep a "
            "reference in the event, or raise max_event_bytes in the backend's config."
        )
    return data, context, size


def _utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


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


def check_events(
    events: Sequence[RawEvent],
    max_event_bytes: int,
    max_append_bytes: int = DEFAULT_MAX_APPEND_BYTES,
    max_append_events: int = DEFAULT_MAX_APPEND_EVENTS,
    checked_stream_id: StreamId | None = None,
) -> list[tuple[str, str]]:
    """Check every event of an append before anything is written.

    ``checked_stream_id``: a stream id the caller has checked already (``check_stream_id``);
    events that carry this very object are not checked again.

    Raises:
        AppendTooLarge: The append has more than ``max_append_events`` events, or their
            payloads encode to more than ``max_append_bytes`` in all (found before the rest is
            encoded).
        DuplicateEventUuid: Two events of the append share a uuid.
        InvalidInput: An event breaks another rule (see :func:`check_event`).

    Returns:
        Each event's data and context as compact JSON (see :func:`encode_checked_event`).
    """
    if len(events) > max_append_events:
        raise AppendTooLarge(
            f"One append carries {len(events)} events; the limit is {max_append_events} "
            "(max_append_events). Append them in several smaller appends, or raise "
            "max_append_events in the backend's config."
        )
    check_unique_uuids(events)
    payloads = []
    total = 0
    names: set[str] = set()
    stream_id = checked_stream_id
    for event in events:
        name = event.name
        if type(name) is not str or name not in names:  # an append repeats a few names
            _check_name(name)
            names.add(name)
        if event.stream_id is not stream_id:  # and one stream id
            check_stream_id(event.stream_id)
            stream_id = event.stream_id
        data, context, size = _encode_payload(event, max_event_bytes)
        total += size
        if total > max_append_bytes:
            raise AppendTooLarge(
                f"One append of {len(events)} events carries more than {max_append_bytes} "
                f"bytes of JSON (at least {total}; max_append_bytes). Append them in several "
                "smaller appends, store large content elsewhere, or raise max_append_bytes "
                "in the backend's config."
            )
        payloads.append((data, context))
    return payloads
