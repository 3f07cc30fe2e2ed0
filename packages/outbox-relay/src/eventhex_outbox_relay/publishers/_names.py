"""Ids in places with a narrower alphabet than the ids: headers, routing keys, subjects, topics.

The input rules let a category, a tenant id or an event name be any text of up to 255
characters without NUL: non-Latin-1 letters, CR/LF, tabs and broker wildcards included. Each
helper here turns such an id into a value its protocol accepts, reversibly where the value is
short enough; the message body always carries the original.
"""

from __future__ import annotations

import hashlib
import re
import string

__all__ = [
    "EMPTY_TOPIC_PART",
    "MAX_TOPIC",
    "TOPIC_DIGEST_MARK",
    "TOPIC_FIELDS",
    "TOPIC_SAFE",
    "TopicTemplate",
    "header_value",
    "short_string",
    "subject_token",
    "topic_digest",
    "topic_part",
    "topic_part_id",
]

_HEADER_SAFE = frozenset(string.printable) - frozenset(string.whitespace) - {"%"}
_TOKEN_SAFE = frozenset(string.ascii_letters + string.digits + "_-")
TOPIC_SAFE = frozenset(string.ascii_letters + string.digits + "._-")
"""Kafka's legal topic name characters."""
MAX_TOPIC = 249
"""Kafka's longest topic name."""
TOPIC_FIELDS = ("category", "tenant")
"""Placeholders a Kafka topic template may hold."""
_TOPIC_PLAIN = frozenset(string.ascii_letters + string.digits + "-")
EMPTY_TOPIC_PART = "_"
"""The topic part of an empty id."""
TOPIC_DIGEST_MARK = "_h"
"""How a digested topic part starts."""
_DIGEST_LENGTH = len(TOPIC_DIGEST_MARK) + 32

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


def topic_part(text: str) -> str:
    """``text`` as one part of a Kafka topic name, written so that no two ids share a part.

    Letters, digits and ``-`` stay as they are; every other character (``_`` and ``.``
    included) is written as ``_`` and two lower-case hex digits per UTF-8 byte, so ``acme_corp``
    becomes ``acme_5fcorp`` and ``acme.eu`` becomes ``acme_2eeu``. Empty text is ``_`` alone,
    which no escaped id produces (an escape always has its two hex digits). The part never
    holds a ``.``, so the ``.`` of a template always separates parts. It reads back with
    :func:`topic_part_id`.
    """
    if not text:
        return EMPTY_TOPIC_PART
    return "".join(
        char if char in _TOPIC_PLAIN else "".join(f"_{byte:02x}" for byte in char.encode())
        for char in text
    )


def topic_part_id(part: str) -> str:
    """The id a :func:`topic_part` came from.

    Raises:
        ValueError: ``part`` is a digest (:func:`topic_digest`) or no part of ours.
    """
    if part == EMPTY_TOPIC_PART:
        return ""
    if part.startswith(TOPIC_DIGEST_MARK):
        raise ValueError(f"topic part {part!r} is a digest: the message carries the id")
    if not re.fullmatch(r"(?:[A-Za-z0-9-]|_[0-9a-f]{2})+", part):
        raise ValueError(f"{part!r} is not a topic part of eventhex")
    return re.sub(r"(?:_[0-9a-f]{2})+", _unescaped, part)


def _unescaped(escapes: re.Match[str]) -> str:
    return bytes.fromhex(escapes[0].replace("_", "")).decode()


def topic_digest(text: str) -> str:
    """The short form of a part too long for the topic: :data:`TOPIC_DIGEST_MARK` and 32 hex
    digits of ``text``'s SHA-256. No :func:`topic_part` starts with the mark (``h`` is no hex
    digit), so a digest and an escaped id never meet."""
    return TOPIC_DIGEST_MARK + hashlib.sha256(text.encode()).hexdigest()[:32]


class TopicTemplate:
    """A Kafka topic template with ``{tenant}`` and ``{category}``, checked to be injective.

    Rendered topics of two different (tenant, category) pairs always differ (for the
    placeholders the template holds): each id becomes a :func:`topic_part` with no ``.`` in it,
    so one rule makes the parts readable back from the topic: **between two placeholders there
    is a** ``.``. When a topic would pass :data:`MAX_TOPIC` characters, each part longer than a
    digest becomes its :func:`topic_digest`; the template is refused when even the digests would
    not fit.

    A template without ``{tenant}`` sends every tenant's events of a category to one topic (no
    per-tenant ACL is possible); one without placeholders is a single topic.

    Args:
        template: ``events.{tenant}.{category}``, ``{category}``, ``events``, ...

    Raises:
        ValueError: An unknown placeholder, a conversion or format spec, an unbalanced brace,
            literal text outside ``[A-Za-z0-9._-]``, two placeholders without a ``.`` between
            them, or a template too long for its digests; the message says which and the fix.
    """

    def __init__(self, template: str) -> None:
        self.template = template
        self.fields = _fields(template)
        if not self.fields and (template in ("", ".", "..") or len(template) > MAX_TOPIC):
            raise ValueError(f"Kafka topic {template!r} is not a legal topic name")
        literal = len(template.format(**dict.fromkeys(TOPIC_FIELDS, "")))
        if literal + len(self.fields) * _DIGEST_LENGTH > MAX_TOPIC:
            raise ValueError(
                f"Kafka topic template {template!r} is too long: with each placeholder at its "
                f"{_DIGEST_LENGTH}-character digest it passes {MAX_TOPIC} characters; shorten "
                "its fixed text"
            )

    def render(self, tenant: str, category: str) -> str:
        """The topic of a message of ``tenant`` and ``category``."""
        parts = {"tenant": topic_part(tenant), "category": topic_part(category)}
        topic = self.template.format(**parts)
        if len(topic) <= MAX_TOPIC:
            return topic
        ids = {"tenant": tenant, "category": category}
        short = {
            name: topic_digest(ids[name]) if len(part) > _DIGEST_LENGTH else part
            for name, part in parts.items()
        }
        return self.template.format(**short)


def _fields(template: str) -> list[str]:
    """The placeholders of ``template``, checked (see :class:`TopicTemplate`)."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ValueError(f"Kafka topic template {template!r}: {error}") from None
    fields: list[str] = []
    for literal, field, spec, conversion in parsed:
        if not set(literal) <= TOPIC_SAFE:
            raise ValueError(
                f"Kafka topic template {template!r} has characters outside [A-Za-z0-9._-]"
            )
        if fields and field is not None and "." not in literal:
            raise ValueError(
                f"Kafka topic template {template!r}: no '.' between {{{fields[-1]}}} and "
                f"{{{field}}}, so two different pairs of ids could make one topic; separate "
                f"the placeholders with '.' (e.g. events.{{tenant}}.{{category}})"
            )
        if field is None:
            continue
        if field not in TOPIC_FIELDS or spec or conversion:
            raise ValueError(
                f"Kafka topic template {template!r}: unknown placeholder {{{field}}}; "
                f"use {{category}} or {{tenant}}"
            )
        fields.append(field)
    return fields
