"""What eventhex keeps of a failure: where it happened and what kind it was, never row values.

Parked events, a projection's ``last_error`` and an outbox entry's ``last_error`` outlive the
event's encryption key: crypto-shredding deletes the key, not these rows (ADR 0017). So the text
stored for a failure is built to hold no event data:

* the traceback's frames (files, lines, functions and source lines: code, not data);
* for each exception of the chain, its type and
  - for a database error, the server's primary message, SQLSTATE and the names of the table,
    column and constraint, never the ``DETAIL`` (``Key (email)=(alice@example.com) already
    exists``, ``Failing row contains (...)``), ``HINT`` or ``CONTEXT``, which quote row values;
  - for any other exception, its message, unless the event (or one of the batch) has encrypted
    fields: a handler's own message may quote the decrypted values, so it is withheld.

A database error's primary message can quote a value too (``invalid input syntax for type
integer: "..."``); it is kept only where other messages are.
"""

import traceback
from collections.abc import Iterable, Iterator

from event_sourcery.event import Event, EventRegistry

__all__ = [
    "WITHHELD",
    "carries_encrypted_fields",
    "failure_line",
    "failure_text",
    "name_carries_encrypted_fields",
]

WITHHELD = "[message withheld: the event has encrypted fields]"
"""What a stored failure says instead of a message that may quote decrypted data."""

_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"
_IDENTIFIERS = ("schema_name", "table_name", "column_name", "constraint_name")


def carries_encrypted_fields(registry: EventRegistry, events: Iterable[Event]) -> bool:
    """Whether one of ``events`` has a field encrypted per data subject."""
    return any(registry.encrypted_fields(of=type(event)) for event in events)


def name_carries_encrypted_fields(registry: EventRegistry | None, name: str) -> bool:
    """Whether the event stored as ``name`` has encrypted fields (True when that is unknown)."""
    if registry is None:
        return True
    try:
        event_type = registry.type_for_name(name)
    except Exception:  # unregistered or renamed: assume the worst
        return True
    return bool(registry.encrypted_fields(of=event_type))


def failure_text(error: BaseException, keep_messages: bool) -> str:
    """A traceback of ``error`` and its causes that holds no row values, and no exception
    messages unless ``keep_messages``.

    Formatted like Python's own traceback, root cause first, so the last line names the
    failure (the line ``eventhex_projections parked list`` shows).
    """
    parts: list[str] = []
    for exception, link in reversed(list(_chain(error))):
        frames = traceback.extract_tb(exception.__traceback__)
        if frames:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_list(frames))
        parts.append(f"{_type_name(exception)}: {_message(exception, keep_messages)}\n")
        parts.append(link)
    return "".join(parts)


def failure_line(error: BaseException, keep_messages: bool) -> str:
    """One line for ``error`` (``ConnectionError: broker down``), under the same rules as
    :func:`failure_text`."""
    return f"{type(error).__name__}: {_message(error, keep_messages)}"


def _chain(error: BaseException) -> Iterator[tuple[BaseException, str]]:
    """``error`` and the exceptions it was raised from or while handling, newest first, each
    with the text that links it to the one after it."""
    seen: set[int] = set()
    current: BaseException | None = error
    link = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current, link
        if current.__cause__ is not None:
            current, link = current.__cause__, _CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, _CONTEXT
        else:
            current = None


def _type_name(exception: BaseException) -> str:
    kind = type(exception)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def _message(exception: BaseException, keep_messages: bool) -> str:
    database_error = _database_error(exception)
    if database_error is not None:
        return _database_message(database_error, keep_messages)
    if not keep_messages:
        return WITHHELD
    return str(exception)


def _database_error(exception: BaseException) -> BaseException | None:
    """The driver's error behind ``exception``: itself (psycopg, psycopg2), or the one Django
    wrapped (Django's ``IntegrityError`` and the like repeat its text, DETAIL included)."""
    if getattr(exception, "diag", None) is not None:
        return exception
    cause = exception.__cause__
    if cause is not None and getattr(cause, "diag", None) is not None:
        return cause
    return None


def _database_message(error: BaseException, keep_messages: bool) -> str:
    diag = error.diag  # type: ignore[attr-defined]
    sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None) or "?"
    named = [
        f'{name.removesuffix("_name")} "{value}"'
        for name in _IDENTIFIERS
        if (value := getattr(diag, name, None))
    ]
    primary = None
    if keep_messages:  # a client-side error (a lost connection) has no primary message
        primary = diag.message_primary or str(error).partition("\n")[0]
    summary = ", ".join([f"SQLSTATE {sqlstate}", *named])
    return f"{primary} [{summary}]" if primary else f"[{summary}]"
