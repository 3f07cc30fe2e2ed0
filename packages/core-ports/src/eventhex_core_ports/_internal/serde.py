"""``FastSerde``: event_sourcery's ``Serde`` without the generic deep copies.

event_sourcery's ``Serde.deserialize`` copies every raw event with ``dataclasses.asdict``, which
walks the whole record, stream id included, and deep-copies each leaf through ``copy.deepcopy``;
that is most of the time spent loading a stream or reading a subscription. ``FastSerde``
produces the same ``WrappedEvent`` and ``Recorded`` values (equal objects, the same context
with its legacy fields, encryption and crypto-shredding applied the same way) but copies only
what needs copying: the payload and context containers (so the event never shares a mutable
object with the raw record, which decryption would otherwise modify in place), with JSON
values copied by a specialised walk and anything else by ``dataclasses.asdict``'s own rules.

Adapters that decode JSON for one read can skip even that copy: a payload or context wrapped in
:class:`FreshJson` is, by the adapter's word, referenced by nothing else, so handing its contents
to the event cannot alias anything the adapter keeps.
"""

import dataclasses
import json
import re
from collections.abc import Mapping
from datetime import datetime
from functools import cached_property
from typing import Any
from uuid import UUID

from event_sourcery import StreamId
from event_sourcery.event import Context, RawEvent, Recorded, RecordedRaw, Serde, WrappedEvent
from pydantic import BaseModel, ValidationError

from eventhex_core_ports._internal.records import raw_event, recorded, wrapped_event
from eventhex_core_ports._internal.stored_json import TOO_DEEP
from eventhex_core_ports._internal.validation import JSON_SCALARS
from eventhex_core_ports.errors import InvalidEventData, UndecodableEvent
from eventhex_core_ports.upcasting import (
    EVENT_VERSION_KEY,
    Upcasters,
    default_upcasters,
    event_version,
)

__all__ = ["FastSerde", "FreshJson"]

_CONTEXT_FIELDS = frozenset({"correlation_id", "causation_id", "components"})
_set = object.__setattr__

_DOTTED_KEY = re.compile(r'"(?:[^"\\]|\\.)*\.(?:[^"\\]|\\.)*"\s*:')
"""A JSON object key containing a dot, at any depth (a false match only costs the fast path)."""
_DOTTED_KEY_BYTES = re.compile(_DOTTED_KEY.pattern.encode())


class FreshJson(dict[str, Any]):
    """A JSON object an adapter decoded for one read, referenced by nothing else.

    ``FastSerde`` gives its contents to the event without copying them first. Wrap only what no
    cache, store or caller keeps: the event may share its nested lists and dicts.
    """

    __slots__ = ()


@dataclasses.dataclass
class _Box:
    value: Any


def _asdict_copy(value: Any) -> Any:
    """Copy ``value`` exactly as ``dataclasses.asdict`` copies a field holding it."""
    return dataclasses.asdict(_Box(value))["value"]


def _copy(value: Any) -> Any:
    """``dataclasses.asdict``'s copy of ``value``, fast for JSON dicts, lists and scalars."""
    kind = type(value)
    if kind is FreshJson:
        return value
    if kind is dict:
        return {
            (key if type(key) in JSON_SCALARS else _asdict_copy(key)): (
                item if type(item) in JSON_SCALARS else _copy(item)
            )
            for key, item in value.items()
        }
    if kind is list:
        return [item if type(item) in JSON_SCALARS else _copy(item) for item in value]
    if kind in JSON_SCALARS:
        return value
    return _asdict_copy(value)


def _empty_context(stored: Mapping[str, Any]) -> Context | None:
    """The ``Context`` of a stored context without ids, components or legacy fields, or ``None``.

    Most events carry such a context, and validating it changes nothing, so the instance is
    assembled as ``BaseModel.model_construct`` assembles one, without the private-attribute
    default factory that costs more than the rest (tests compare it with the validated one).
    """
    if stored.get("correlation_id") is not None or stored.get("causation_id") is not None:
        return None
    if stored.get("components") or not _CONTEXT_FIELDS.issuperset(stored):
        return None
    if "components" in stored and type(stored["components"]) is not dict:
        return None
    return _plain_context()


def _plain_context() -> Context:
    """A new ``Context`` without ids, components or legacy fields (see :func:`_empty_context`)."""
    context = Context.__new__(Context)
    _set(context, "__dict__", {"correlation_id": None, "causation_id": None, "components": {}})
    _set(context, "__pydantic_fields_set__", set(_CONTEXT_FIELDS))
    _set(context, "__pydantic_extra__", None)
    _set(context, "__pydantic_private__", {"_legacy_fields": {}})
    return context


def _uuid_or_none(value: Any) -> bool:
    return value is None or type(value) is UUID


def _has_dotted_key(text: str | bytes) -> bool:
    if isinstance(text, bytes):
        return b"." in text and _DOTTED_KEY_BYTES.search(text) is not None
    return "." in text and _DOTTED_KEY.search(text) is not None


@dataclasses.dataclass(frozen=True, slots=True)
class _EventKind:
    """An event type as ``FastSerde`` uses it."""

    type: type[Any]
    alias: Any
    """``WrappedEvent[type]``, which ``Serde`` instantiates (and ``typing`` records)."""
    from_json: bool
    """Validated straight from JSON text: pydantic's own ``__init__``, no encrypted fields."""
    name: str
    """The name the type is registered under (the stored name after renames)."""
    version: int
    """The type's ``__event_version__``: stored events of another version are upcast."""


class FastSerde(Serde):
    """A drop-in for event_sourcery's ``Serde`` with the same results, several times faster.

    Wire it in a container the way ``Serde`` is wired::

        serde = providers.Factory(FastSerde, registry=event_registry, encryption=encryption)

    Args:
        registry: Maps event names to event types.
        encryption: Decrypts (or masks, once a key is shredded) encrypted fields on reads and
            encrypts them on writes.
        upcasters: Renames and upcasters applied to stored events on reads
            (:mod:`eventhex_core_ports.upcasting`); ``default_upcasters`` when omitted.
    """

    def __init__(self, registry: Any, encryption: Any, upcasters: Upcasters | None = None) -> None:
        super().__init__(registry, encryption)
        self.upcasters = default_upcasters if upcasters is None else upcasters

    def serialize(self, event: WrappedEvent[Any], stream_id: StreamId) -> RawEvent:
        """The ``RawEvent`` of ``event``, as ``Serde`` builds it.

        Raises:
            InvalidEventData: pydantic cannot serialise the event because it nests too deeply
                (pydantic raises a plain ``ValueError`` there); nothing was written.
        """
        try:
            raw = self._serialize_plain(event, stream_id) or super().serialize(event, stream_id)
        except ValueError as error:
            if "depth" not in str(error):
                raise
            raise InvalidEventData(
                f"Event {type(event.event).__name__} ({event.uuid}) cannot be stored: {error} "
                "(pydantic's limit on nesting). Give the event flatter fields: payloads may "
                "nest arrays and objects at most MAX_JSON_DEPTH (100) levels deep."
            ) from error
        version = event_version(type(event.event))
        if version != 1:  # version 1 is stored as before versions existed: without the key
            raw.context[EVENT_VERSION_KEY] = version
        return raw

    def _serialize_plain(self, event: WrappedEvent[Any], stream_id: StreamId) -> RawEvent | None:
        """``Serde.serialize`` of an event without encrypted fields whose context has no
        components or legacy fields, or ``None`` for any other event.

        ``Encryption.encrypt`` then only dumps the event (and copies it key by key, which
        changes nothing unless a top-level key has a dot), and the context's dump is its two
        ids as text; what is left is building the ``RawEvent`` (``records.raw_event``).
        """
        event_type = type(event.event)
        name = self._plain_names.get(event_type)
        if name is None:
            if self.registry.encrypted_fields(of=event_type):
                return None
            name = self._plain_names[event_type] = self.registry.name_for_type(event_type)
        context = event.context
        if type(context) is not Context or context.components:
            return None
        private = context.__pydantic_private__
        if private is None or private.get("_legacy_fields"):
            return None
        correlation, causation = context.correlation_id, context.causation_id
        if not (_uuid_or_none(correlation) and _uuid_or_none(causation)):
            return None
        stored_context = {
            "correlation_id": None if correlation is None else str(correlation),
            "causation_id": None if causation is None else str(causation),
        }
        data = event.event.model_dump(mode="json")
        if "." in "".join(data):  # Encryption.encrypt nests a dotted top-level key
            return None
        return raw_event(
            event.uuid, stream_id, event.created_at, name, data, stored_context, event.version
        )

    @cached_property
    def _plain_names(self) -> dict[type[Any], str]:
        """The names of event types without encrypted fields (see :meth:`_serialize_plain`)."""
        return {}

    def deserialize(self, event: RawEvent) -> WrappedEvent[Any]:
        """The ``WrappedEvent`` stored in ``event``, equal to what ``Serde`` returns."""
        return self.wrap_stored(
            event.name,
            event.data,
            event.context,
            event.uuid,
            event.created_at,
            event.version,
            event.stream_id,
        )

    def wrap_stored(
        self,
        name: str,
        data: str | bytes | Mapping[str, Any],
        context: Mapping[str, Any] | int | None,
        uuid: UUID,
        created_at: datetime,
        version: int | None,
        stream_id: StreamId,
    ) -> WrappedEvent[Any]:
        """The ``WrappedEvent`` of a stored event, straight from what an adapter read.

        Equal to ``deserialize(RawEvent(...))`` of the same values, without the ``RawEvent``.

        Args:
            name: The stored event name.
            data: The payload: JSON text as stored (validated straight into the event with
                pydantic's ``model_validate_json`` when nothing has to be decrypted), or a
                mapping the adapter decoded for this read alone (handed over without a copy).
            context: The stored context decoded for this read alone, or ``None`` for the
                plain context (no ids, no components, no other fields), or an ``int`` for the
                plain context of an event stored at that schema version (``__event_version__``).
            uuid, created_at, version: The event's.
            stream_id: Its stream (decryption keys belong to the stream's data subject).

        Raises:
            UndecodableEvent: The payload or context nests too deeply to decode (stored
                around eventhex's checks); the error names the event and its stream.
        """
        try:
            fresh_data = data if isinstance(data, (str, bytes)) else _copy(data)  # first, as Serde
            stored_version: Any = 1
            if context is None:
                wrapped = _plain_context()
            elif type(context) is int:
                wrapped, stored_version = _plain_context(), context
            else:
                fresh = _copy(context)
                if EVENT_VERSION_KEY in fresh:
                    stored_version = fresh.pop(EVENT_VERSION_KEY)
                wrapped = _empty_context(fresh) or self._deserialize_context(fresh)
            kind = self._kind(name)
            if stored_version != kind.version:
                event = self._upcast(kind, fresh_data, stored_version, stream_id)
            elif isinstance(data, (str, bytes)):
                event = self._from_json(kind, data, stream_id)
            else:
                event = self._event(kind.type, fresh_data, data, stream_id)
        except RecursionError:  # a try is free unless it raises: no depth check on the hot path
            raise UndecodableEvent(
                TOO_DEEP, event_uuid=uuid, stream_id=stream_id, name=name
            ) from None
        return wrapped_event(kind.alias, event, version, uuid, created_at, wrapped)

    def _kind(self, name: str) -> _EventKind:
        """What this serde knows about the event type stored under ``name`` (as
        ``registry.type_for_name`` finds it, and raises when it does not)."""
        kind = self._kinds.get(name)
        if kind is None:
            current_name = self.upcasters.current_name(name)
            event_type = self.registry.type_for_name(current_name)
            kind = _EventKind(
                type=event_type,
                alias=WrappedEvent[event_type],  # type: ignore[valid-type]
                from_json=event_type.__init__ is BaseModel.__init__
                and not self.registry.encrypted_fields(of=event_type),
                name=current_name,
                version=event_version(event_type),
            )
            self._kinds[name] = kind
        return kind

    def _upcast(self, kind: _EventKind, data: Any, stored_version: Any, stream_id: StreamId) -> Any:
        """The event of a payload stored at another version than its type's, upcast first.

        Upcasters receive the payload as stored (encrypted fields still encrypted), as a dict
        of their own; decryption runs on what they return.
        """
        payload = json.loads(data) if isinstance(data, (str, bytes)) else dict(data)
        upcast = self.upcasters.upcast(kind.name, payload, stored_version, kind.version)
        return self._event(kind.type, upcast, None, stream_id)

    @cached_property
    def _kinds(self) -> dict[str, _EventKind]:
        return {}

    def _event(self, event_type: type[Any], data: Any, stored: Any, stream_id: StreamId) -> Any:
        """The event of a payload already decoded (``data``, copied from ``stored`` unless it
        is ``FreshJson``), decrypted as ``Serde`` decrypts it."""
        if self._needs_decryption(event_type, data):
            if data is stored:  # FreshJson, not copied: decryption would rewrite the record
                data = _copy(dict(data))
            data = self.encryption.decrypt(event_type, data, stream_id)
        return event_type(**data)

    def _from_json(self, kind: _EventKind, text: str | bytes, stream_id: StreamId) -> Any:
        """The event of a payload still in JSON text.

        pydantic validates the text straight into the event when that gives what ``Serde``
        gives: the type has no encrypted fields, no key contains a dot (``Encryption.decrypt``
        would nest it), and the type keeps pydantic's own ``__init__`` (``Serde`` calls the
        type). Otherwise, and to raise exactly ``Serde``'s error when the payload does not
        validate, the text is decoded and goes the usual way.
        """
        if kind.from_json and not _has_dotted_key(text):
            try:
                # model_validate_json's own body, without its Python frame
                return kind.type.__pydantic_validator__.validate_json(text)
            except ValidationError:
                pass  # raised again below, worded as Serde words it
        return self._event(kind.type, FreshJson(json.loads(text)), None, stream_id)

    def deserialize_record(self, record: RecordedRaw) -> Recorded:
        """The ``Recorded`` stored in ``record``, equal to what ``Serde`` returns."""
        entry = record.entry
        try:
            wrapped = self.deserialize(entry)
        except UndecodableEvent as error:
            raise error.at(position=record.position) from None
        return recorded(wrapped, entry.stream_id, record.position, record.tenant_id)

    def _needs_decryption(self, event_type: type[Any], data: Mapping[str, Any]) -> bool:
        """Whether ``Encryption.decrypt`` can change ``data``.

        Without encrypted fields it only rebuilds the dict key by key, which gives an equal
        dict unless a top-level key is not a string or contains a dot (then it is called, so
        that it fails or nests exactly as it does under ``Serde``).
        """
        if self.registry.encrypted_fields(of=event_type):
            return True
        try:
            return "." in "".join(data)
        except TypeError:  # a key that is not a string
            return True
