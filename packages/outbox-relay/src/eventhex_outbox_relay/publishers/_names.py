"""Ids in places with a narrower alphabet than the ids: headers, routing keys, subjects.

The input rules let a category, a tenant id or an event name be any text of up to 255
characters without NUL: non-Latin-1 letters, CR/LF, tabs and broker wildcards included. Each
helper here turns such an id into a value its protocol accepts, reversibly where the value is
short enough; the message body always carries the original.
"""

from __future__ import annotations

import hashlib
import string

__all__ = ["header_value", "short_string", "subject_token"]

_HEADER_SAFE = frozenset(string.printable) - frozenset(string.whitespace) - {"%"}
_TOKEN_SAFE = frozenset(string.ascii_letters + string.digits + "_-")

MAX_SUBJECT_TOKEN = 128
"""Longest subject token sent as is; a longer one is cut and given a digest."""


def _percent(text: str, safe: frozenset[str]) -> str:
    return "".join(
        char if char in safe else "".join(f"%{byte:02X}" for byte in char.encode()) for char in text
    )


def header_value(text: str) -> str:
    """``text`` with every character that is not printable ASCII, whitespace and ``%`` included,
    percent-encoded as UTF-8: any id fits an HTTP or NATS header, and ``unquote`` restores it.

    Plain ids (``acme:order:1f0c…``) pass unchanged.
    """
    return _percent(text, _HEADER_SAFE)


def _with_digest(text: str, head: str, budget: int) -> str:
    """``head`` cut to fit ``budget`` characters with ``~`` and 16 hex digits of ``text``'s
    SHA-256 appended."""
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"{head[: budget - 17]}~{digest}"


def subject_token(text: str) -> str:
    """One NATS subject token for ``text``: letters, digits, ``_`` and ``-`` as they are, every
    other character percent-encoded as UTF-8 (so no ``.``, ``*``, ``>``, whitespace or control
    character reaches the protocol), ``_`` for empty text.

    A token longer than :data:`MAX_SUBJECT_TOKEN` is cut and ends in ``~`` and a digest of the
    whole text, so that it stays unique and the subject stays within the server's limits.
    """
    if not text:
        return "_"
    token = _percent(text, _TOKEN_SAFE)
    if len(token) <= MAX_SUBJECT_TOKEN:
        return token
    head = token[: MAX_SUBJECT_TOKEN - 17]
    cut = head.rfind("%", len(head) - 2)  # never split a %XX escape
    return _with_digest(text, head[:cut] if cut >= 0 else head, MAX_SUBJECT_TOKEN)


def short_string(text: str, limit: int = 255) -> str:
    """``text`` if its UTF-8 fits ``limit`` bytes (an AMQP short string), else its longest
    prefix that fits with ``~`` and 16 hex digits of its SHA-256 appended."""
    if len(text.encode()) <= limit:
        return text
    head = text.encode()[: limit - 17].decode(errors="ignore")  # whole characters only
    return _with_digest(text, head, len(head) + 17)
