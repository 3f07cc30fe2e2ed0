"""``FastSerde`` gives exactly what event_sourcery's ``Serde`` gives, on the same inputs."""

import base64
import copy
import dataclasses
import json
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

import pytest
from dependency_injector import providers
from event_sourcery import StreamId
from event_sourcery.encryption import DataSubject, Encrypted, Encryption
from event_sourcery.event import (
    Context,
    Event,
    EventRegistry,
    RawEvent,
    RecordedRaw,
    Serde,
    WrappedEvent,
)
from event_sourcery.interfaces import EncryptionStrategy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from eventhex_core_ports import InMemoryBackend, InMemoryConfig
from eventhex_core_ports._internal.serde import FastSerde, FreshJson
from eventhex_core_ports.in_memory.key_storage import InMemoryKeyStorage


class Line(BaseModel):
    sku: str
    quantity: int


class Everything(Event):
    name: str
    count: int
    ratio: float
    flag: bool
    maybe: int | None = None
    numbers: list[int] = []
    lines: list[Line] = []
    anything: Any = None
    mapping: dict[str, Any] = {}
    when: datetime | None = None
    ref: UUID | None = None


class Address(BaseModel):
    street: Annotated[str, Encrypted(mask_value="[street]")]
    city: str


class Registered(Event):
    user_id: Annotated[str, DataSubject]
    email: Annotated[str, Encrypted(mask_value="[email]")]
    score: Annotated[int, Encrypted(mask_value=-1)]
    tags: Annotated[list[str], Encrypted(mask_value=[])]
    address: Address
    partner_id: str = ""
    partner_note: Annotated[str, Encrypted(mask_value="", subject_field="partner_id")] = ""


class ReversibleStrategy(EncryptionStrategy):
    """A real, keyed, reversible transformation (XOR with the key), enough to tell plain text
    from cipher text and a wrong key from the right one."""

    def encrypt(self, data: Any, key: bytes) -> str:
        raw = str(data).encode()
        return base64.b64encode(bytes(b ^ key[i % len(key)] for i, b in enumerate(raw))).decode()

    def decrypt(self, data: str, key: bytes) -> Any:
        raw = base64.b64decode(data)
        return bytes(b ^ key[i % len(key)] for i, b in enumerate(raw)).decode()


@pytest.fixture
def keys() -> InMemoryKeyStorage:
    return InMemoryKeyStorage()


def serdes(keys: InMemoryKeyStorage) -> tuple[Serde, FastSerde]:
    registry = EventRegistry()
    encryption = Encryption(registry=registry, strategy=ReversibleStrategy(), key_storage=keys)
    return Serde(registry, encryption), FastSerde(registry, encryption)


def assert_identical(expected: WrappedEvent[Any], actual: WrappedEvent[Any]) -> None:
    assert actual == expected
    assert type(actual.event) is type(expected.event)
    assert actual.event.model_dump() == expected.event.model_dump()
    assert actual.context == expected.context
    assert actual.context._legacy_fields == expected.context._legacy_fields
    assert type(actual.context) is type(expected.context)
    assert actual.context.model_fields_set == expected.context.model_fields_set
    assert actual.context.__pydantic_extra__ == expected.context.__pydantic_extra__
    assert actual.context.__pydantic_private__ == expected.context.__pydantic_private__
    assert actual.context.model_dump() == expected.context.model_dump()
    assert actual.__orig_class__ == expected.__orig_class__  # type: ignore[attr-defined]
    assert vars(actual) == vars(expected)
    assert list(vars(actual)) == list(vars(expected))
    assert type(actual.created_at) is type(expected.created_at)


def compare(raw: RawEvent, keys: InMemoryKeyStorage) -> WrappedEvent[Any] | None:
    """Deserialize ``raw`` with both serdes; both leave ``raw`` untouched and agree, in the
    result or in the exception they raise."""
    slow, fast = serdes(keys)
    before = copy.deepcopy(dataclasses.asdict(raw))
    failure: Exception | None = None
    try:
        expected = slow.deserialize(raw)
    except Exception as error:
        failure = error
    if failure is not None:
        with pytest.raises(type(failure)) as raised:
            fast.deserialize(raw)
        assert str(raised.value) == str(failure)
        for stored in stored_forms(raw):
            with pytest.raises(type(failure)) as raised:
                fast.wrap_stored(*stored)
            assert str(raised.value) == str(failure)
        assert dataclasses.asdict(raw) == before
        return None
    actual = fast.deserialize(raw)
    assert dataclasses.asdict(raw) == before
    assert_identical(expected, actual)
    for stored in stored_forms(raw):
        assert_identical(expected, fast.wrap_stored(*stored))
    assert dataclasses.asdict(raw) == before
    return actual


def stored_forms(raw: RawEvent) -> Iterator[tuple[Any, ...]]:
    """``FastSerde.wrap_stored``'s arguments for ``raw`` in every form an adapter may pass:
    the payload as a mapping (fresh or not) and as JSON text (``str`` and ``bytes``), the
    context as a mapping and, when it is the plain one, as ``None``."""
    datas: list[Any] = [raw.data, FreshJson(copy.deepcopy(raw.data))]
    try:
        text = json.dumps(raw.data)
    except TypeError:  # not JSON: only a mapping can carry it
        pass
    else:
        datas += [text, text.encode()]
    contexts: list[Any] = [raw.context]
    if raw.context == {"causation_id": None, "correlation_id": None}:
        contexts.append(None)
    for data in datas:
        for context in contexts:
            yield raw.name, data, context, raw.uuid, raw.created_at, raw.version, raw.stream_id


def loaded(raw: RawEvent, keys: InMemoryKeyStorage) -> WrappedEvent[Any]:
    """``compare`` for inputs that deserialize without an error."""
    result = compare(raw, keys)
    assert result is not None
    return result


def raw_event(
    event: Event,
    keys: InMemoryKeyStorage,
    context: dict[str, Any] | None = None,
    stream_id: StreamId | None = None,
) -> RawEvent:
    slow, _ = serdes(keys)
    stream_id = stream_id or StreamId(name=f"stream-{uuid4()}", category="cat")
    raw = slow.serialize(WrappedEvent.wrap(event, version=3), stream_id)
    if context is None:
        return raw
    return dataclasses.replace(raw, context=context)


def everything() -> Everything:
    return Everything(
        name="n",
        count=3,
        ratio=0.5,
        flag=True,
        numbers=[1, 2],
        lines=[Line(sku="a", quantity=1)],
        anything={"nested": [1, {"deep": None}]},
        mapping={"k": [1, 2, {"x": "y"}]},
        when=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        ref=uuid4(),
    )


def test_plain_event_with_default_context(keys: InMemoryKeyStorage) -> None:
    compare(raw_event(everything(), keys), keys)


def test_result_shares_no_mutable_payload_with_the_raw_event(keys: InMemoryKeyStorage) -> None:
    raw = raw_event(everything(), keys, context={"components": {"c": {"v": [1]}}, "old": [2]})
    result = loaded(raw, keys)
    result.event.anything["nested"].append("changed")
    result.event.mapping["k"].append("changed")
    result.context.components["c"]["v"].append("changed")
    result.context._legacy_fields["old"].append("changed")
    assert raw.data["anything"] == {"nested": [1, {"deep": None}]}
    assert raw.data["mapping"] == {"k": [1, 2, {"x": "y"}]}
    assert raw.context == {"components": {"c": {"v": [1]}}, "old": [2]}


def test_context_with_ids_components_and_legacy_fields(keys: InMemoryKeyStorage) -> None:
    context = {
        "correlation_id": str(uuid4()),
        "causation_id": str(uuid4()),
        "components": {"tracing": {"span": "abc", "sampled": True}},
        "user": "alice",
        "request": {"ip": "10.0.0.1", "headers": ["a", "b"]},
    }
    result = loaded(raw_event(everything(), keys, context=context), keys)
    assert isinstance(result.context.correlation_id, UUID)
    assert result.context._legacy_fields == {
        "user": "alice",
        "request": {"ip": "10.0.0.1", "headers": ["a", "b"]},
    }


def test_empty_context_and_non_json_values_in_the_raw_payload(keys: InMemoryKeyStorage) -> None:
    raw = raw_event(everything(), keys, context={})
    odd = dataclasses.replace(
        raw,
        data={
            **raw.data,
            "numbers": (1, 2),
            "anything": (1, [2, (3,)], {"t": (4,)}),
            "mapping": {
                "when": datetime(2020, 1, 1),
                "ids": [uuid4()],
                "ordered": OrderedDict(a=(1, [2])),
            },
        },
    )
    compare(odd, keys)


@pytest.mark.parametrize(
    "context",
    [
        {},
        {"correlation_id": None, "causation_id": None},
        {"components": {}},
        {"correlation_id": None, "components": {}},
        {"components": []},
        {"components": None},
        {"causation_id": None, "legacy": None},
        {1: None},
    ],
    ids=[
        "empty",
        "null-ids",
        "no-components",
        "null-id-no-components",
        "components-list",
        "components-null",
        "legacy-field",
        "non-string-key",
    ],
)
def test_contexts_without_ids_or_components(
    keys: InMemoryKeyStorage, context: dict[Any, Any]
) -> None:
    """Such contexts are assembled without validation; they must equal the validated ones, and
    anything that validation would reject or change still goes through it."""
    compare(raw_event(everything(), keys, context=context), keys)


def test_fresh_json_is_handed_to_the_event_without_a_copy(keys: InMemoryKeyStorage) -> None:
    raw = raw_event(everything(), keys)
    fresh = dataclasses.replace(raw, data=FreshJson(raw.data), context=FreshJson(raw.context))
    expected, actual = serdes(keys)[0].deserialize(raw), serdes(keys)[1].deserialize(fresh)
    assert_identical(expected, actual)
    assert actual.event.anything is fresh.data["anything"]  # the adapter's word: no copy needed
    assert serdes(keys)[1].deserialize(raw).event.anything is not raw.data["anything"]


def test_fresh_json_with_encrypted_fields_is_copied_before_decryption(
    keys: InMemoryKeyStorage,
) -> None:
    keys.store("user-1", b"k1")
    keys.store("partner-1", b"k2")
    raw = raw_event(registered(), keys)
    fresh = dataclasses.replace(raw, data=FreshJson(raw.data), context=FreshJson(raw.context))
    before = copy.deepcopy(dict(fresh.data))
    _, fast = serdes(keys)
    assert fast.deserialize(fresh).event == registered()
    assert fast.deserialize(fresh).event == registered()  # the record was not decrypted in place
    assert dict(fresh.data) == before


def registered(user_id: str = "user-1") -> Registered:
    return Registered(
        user_id=user_id,
        email="a@example.com",
        score=42,
        tags=["x", "y"],
        address=Address(street="1 Main St", city="Oslo"),
        partner_id="partner-1",
        partner_note="note",
    )


def test_encrypted_fields_are_decrypted_the_same_way(keys: InMemoryKeyStorage) -> None:
    keys.store("user-1", b"k1")
    keys.store("partner-1", b"k2")
    raw = raw_event(registered(), keys)
    assert raw.data["email"] != "a@example.com"
    assert raw.data["address"]["street"] != "1 Main St"
    assert loaded(raw, keys).event == registered()


def test_shredded_keys_mask_the_same_way(keys: InMemoryKeyStorage) -> None:
    keys.store("user-1", b"k1")
    keys.store("partner-1", b"k2")
    raw = raw_event(registered(), keys)
    keys.delete("user-1")
    event = loaded(raw, keys).event
    assert event.email == "[email]"
    assert event.score == -1
    assert event.tags == []
    assert event.address.street == "[street]"
    assert event.partner_note == "note"


def test_an_encrypted_string_that_reads_as_json_fails_the_same_way(
    keys: InMemoryKeyStorage,
) -> None:
    """event_sourcery's ``Encryption`` JSON-decodes decrypted values, so an encrypted ``str``
    field holding ``"0"`` comes back as the int 0 and fails validation; FastSerde must fail the
    same way rather than differ."""
    keys.store("user-1", b"k1")
    keys.store("partner-1", b"k2")
    event = registered()
    event.address.street = "0"
    assert compare(raw_event(event, keys), keys) is None


def test_deserializing_twice_gives_the_same_result(keys: InMemoryKeyStorage) -> None:
    keys.store("user-1", b"k1")
    keys.store("partner-1", b"k2")
    raw = raw_event(registered(), keys)
    _, fast = serdes(keys)
    assert fast.deserialize(raw) == fast.deserialize(raw)


def test_records_are_identical(keys: InMemoryKeyStorage) -> None:
    slow, fast = serdes(keys)
    raw = raw_event(everything(), keys)
    record = RecordedRaw(entry=raw, position=(7 << 64) | 12, tenant_id="tenant-a")
    expected, actual = slow.deserialize_record(record), fast.deserialize_record(record)
    assert actual == expected
    assert type(actual) is type(expected)
    assert list(vars(actual)) == list(vars(expected))
    assert actual.stream_id == expected.stream_id
    assert actual.stream_id.category == expected.stream_id.category
    assert_identical(expected.wrapped_event, actual.wrapped_event)


def test_serialize_is_identical(keys: InMemoryKeyStorage) -> None:
    keys.store("user-1", b"k1")
    keys.store("partner-1", b"k2")
    slow, fast = serdes(keys)
    stream_id = StreamId(name="s", category="c")
    context = Context(correlation_id=uuid4(), components={"x": {"y": 1}})
    context._legacy_fields = {"legacy": "kept"}
    wrapped = WrappedEvent.wrap(registered(), version=1, context=context)
    assert fast.serialize(wrapped, stream_id) == slow.serialize(wrapped, stream_id)


@pytest.mark.parametrize(
    "change",
    [
        {"name": "no.such.Event"},
        {"context": {"correlation_id": "not-a-uuid"}},
        {"data": {"name": 1}},
        {"data": {"a.b": 1}},
    ],
    ids=["unknown-name", "bad-context", "invalid-payload", "dotted-key"],
)
def test_failures_are_the_same(keys: InMemoryKeyStorage, change: dict[str, Any]) -> None:
    slow, fast = serdes(keys)
    raw = dataclasses.replace(raw_event(everything(), keys), **change)
    with pytest.raises(Exception) as expected:
        slow.deserialize(raw)
    with pytest.raises(type(expected.value)) as actual:
        fast.deserialize(raw)
    assert str(actual.value) == str(expected.value)


json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
json_scalars |= st.floats(allow_nan=False)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
safe_keys = st.text(max_size=8).filter(
    lambda key: key not in {"correlation_id", "causation_id", "components"}
)


@st.composite
def contexts(draw: st.DrawFn) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for field in ("correlation_id", "causation_id"):
        choice = draw(st.sampled_from(["absent", "none", "uuid"]))
        if choice != "absent":
            context[field] = None if choice == "none" else str(draw(st.uuids()))
    if draw(st.booleans()):
        context["components"] = draw(
            st.dictionaries(st.text(max_size=6), st.dictionaries(st.text(max_size=6), json_values))
        )
    context.update(draw(st.dictionaries(safe_keys, json_values, max_size=3)))
    return context


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    anything=json_values,
    mapping=st.dictionaries(st.text(max_size=6), json_values, max_size=4),
    numbers=st.lists(st.integers(), max_size=5),
    context=contexts(),
    version=st.none() | st.integers(min_value=1, max_value=10**6),
)
def test_random_payloads_and_contexts(
    keys: InMemoryKeyStorage,
    anything: Any,
    mapping: dict[str, Any],
    numbers: list[int],
    context: dict[str, Any],
    version: int | None,
) -> None:
    event = Everything(
        name="n",
        count=1,
        ratio=1.5,
        flag=False,
        numbers=numbers,
        anything=anything,
        mapping=mapping,
    )
    raw = dataclasses.replace(raw_event(event, keys, context=context), version=version)
    compare(raw, keys)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    email=st.text(max_size=12),
    score=st.integers(),
    tags=st.lists(st.text(max_size=5), max_size=3),
    street=st.text(max_size=10),
    shredded=st.booleans(),
    context=contexts(),
)
def test_random_encrypted_events(
    keys: InMemoryKeyStorage,
    email: str,
    score: int,
    tags: list[str],
    street: str,
    shredded: bool,
    context: dict[str, Any],
) -> None:
    keys.store("user-1", b"secret")
    keys.store("partner-1", b"other")
    event = Registered(
        user_id="user-1",
        email=email,
        score=score,
        tags=tags,
        address=Address(street=street, city="c"),
        partner_id="partner-1",
        partner_note=email,
    )
    raw = raw_event(event, keys, context=context)
    if shredded:
        keys.delete("user-1")
    compare(raw, keys)


def test_a_backend_with_the_serde_overridden_loads_the_same_events() -> None:
    backend = InMemoryBackend().configure(InMemoryConfig())
    core = backend.container.core
    stream_id = StreamId(name="order-1", category="order")
    backend.event_store.append(everything(), everything(), stream_id=stream_id)
    expected = backend.event_store.load_stream(stream_id)
    core.serde.override(
        providers.Factory(FastSerde, registry=core.event_registry, encryption=core.encryption)
    )
    assert isinstance(backend.event_store._serde, FastSerde)
    actual = backend.event_store.load_stream(stream_id)
    assert len(actual) == 2
    for want, got in zip(expected, actual, strict=True):
        assert_identical(want, got)
    recorded = next(backend.subscriber.start_from(0).build_batch(10, timelimit=0.1))
    assert [r.wrapped_event for r in recorded] == list(expected)


class Normalised(Event):
    """An event whose own ``__init__`` changes what it is given (``Serde`` calls it)."""

    code: str

    def __init__(self, **data: Any) -> None:
        data["code"] = str(data["code"]).upper()
        super().__init__(**data)


def test_json_text_is_validated_straight_into_the_event(
    keys: InMemoryKeyStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = raw_event(everything(), keys)
    expected = serdes(keys)[0].deserialize(raw)
    _, fast = serdes(keys)

    def no_decoding(text: Any) -> Any:
        raise AssertionError("the payload was decoded before validation")

    monkeypatch.setattr("eventhex_core_ports._internal.serde.json.loads", no_decoding)
    stored = fast.wrap_stored(
        raw.name, json.dumps(raw.data), None, raw.uuid, raw.created_at, 3, raw.stream_id
    )
    assert_identical(expected, stored)


@pytest.mark.parametrize(
    "event",
    [
        Normalised(code="abc"),
        Everything(name="n", count=1, ratio=1.0, flag=True, mapping={"dotted.key": 1}),
    ],
    ids=["own-init", "dotted-key"],
)
def test_json_text_takes_serdes_way_where_validation_would_differ(
    keys: InMemoryKeyStorage, event: Event
) -> None:
    raw = raw_event(event, keys)
    if isinstance(event, Normalised):
        raw = dataclasses.replace(raw, data={"code": "lower"})
    loaded_event = loaded(raw, keys).event
    if isinstance(event, Normalised):
        assert loaded_event == Normalised(code="LOWER")


class Plain(Event):
    """An event without encrypted fields, serialised on FastSerde's direct path."""

    number: int
    text: str
    nested: dict[str, list[int]] = {}
    when: datetime | None = None


class Loose(Event, extra="allow"):
    """An event that keeps extra fields, so a top-level key can have a dot."""


@pytest.mark.parametrize(
    "context",
    [
        Context(),
        Context(correlation_id=uuid4(), causation_id=uuid4()),
        Context(causation_id=uuid4()),
        Context(components={"tracing": {"span": "a"}}),
    ],
    ids=["plain", "both ids", "causation only", "components"],
)
def test_serialize_of_events_without_encrypted_fields_is_identical(
    keys: InMemoryKeyStorage, context: Context
) -> None:
    slow, fast = serdes(keys)
    event = Plain(number=7, text="é ✓", nested={"a": [1, 2]}, when=datetime(2026, 1, 2, tzinfo=UTC))
    wrapped = WrappedEvent.wrap(event, version=4, context=context)
    stream_id = StreamId(name="orders-1", category="orders")
    expected, actual = slow.serialize(wrapped, stream_id), fast.serialize(wrapped, stream_id)
    assert actual == expected
    assert list(actual.data) == list(expected.data)
    assert list(actual.context) == list(expected.context)
    assert_identical(fast.deserialize(actual), slow.deserialize(expected))


def test_serialize_takes_the_general_path_for_legacy_context_fields(
    keys: InMemoryKeyStorage,
) -> None:
    slow, fast = serdes(keys)
    context = Context()
    context._legacy_fields = {"tenant": "kept"}
    wrapped = WrappedEvent.wrap(Plain(number=1, text="t"), version=1, context=context)
    stream_id = StreamId(name="s")
    assert fast.serialize(wrapped, stream_id) == slow.serialize(wrapped, stream_id)
    assert fast.serialize(wrapped, stream_id).context["tenant"] == "kept"


def test_serialize_of_a_dotted_top_level_key_fails_as_serde_fails(
    keys: InMemoryKeyStorage,
) -> None:
    slow, fast = serdes(keys)
    wrapped = WrappedEvent.wrap(Loose(**{"a.b": 1}), version=1)
    with pytest.raises(KeyError) as expected:
        slow.serialize(wrapped, StreamId(name="s"))
    with pytest.raises(KeyError) as actual:
        fast.serialize(wrapped, StreamId(name="s"))
    assert str(actual.value) == str(expected.value)
