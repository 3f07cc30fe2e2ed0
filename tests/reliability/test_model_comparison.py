"""Random operation sequences give the same results on the Django adapter and the reference.

Hypothesis generates lists of appends (unversioned, or with an expected version that may be
wrong), snapshots, deletions and ranged reads over three streams, and runs each list on the
in-memory reference and on the Django adapter (SQLite, then PostgreSQL). Every step must give
the same outcome: the same error type, or the same events read back. One case is not compared:
a second snapshot at the same version as an earlier one (``TIED``), where which of the two is
"newest" is unspecified. Each example runs in a tenant of its own, so examples never see each
other's streams.
"""

from typing import Any
from uuid import uuid4

import pytest
from event_sourcery import NO_VERSIONING, StreamId
from event_sourcery.event import WrappedEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventhex_core_ports import ContainerBackend, InMemoryBackend

from ._support import Noted
from .conftest import build_backend, on_every_database

pytestmark = on_every_database

STREAMS = [
    StreamId(name="model-a"),
    StreamId(name="model-b", category="model"),
    StreamId(name="model-a", category="model"),
]

Operation = tuple[Any, ...]

operations = st.one_of(
    st.tuples(
        st.just("append"),
        st.integers(0, 2),
        st.integers(1, 3),
        st.one_of(st.just("unversioned"), st.integers(0, 5)),
    ),
    st.tuples(st.just("snapshot"), st.integers(0, 2), st.integers(1, 6)),
    st.tuples(st.just("delete"), st.integers(0, 2)),
    st.tuples(
        st.just("load"),
        st.integers(0, 2),
        st.one_of(st.none(), st.integers(1, 5)),
        st.one_of(st.none(), st.integers(2, 7)),
    ),
)


TIED = "snapshot at the version of an earlier snapshot"
"""Not compared: which of two snapshots with the same version a load returns is unspecified."""


def _run(backend: ContainerBackend[Any], steps: list[Operation]) -> list[object]:
    store = backend.event_store
    outcomes: list[object] = []
    snapshot_versions: dict[int, set[int]] = {}
    for number, step in enumerate(steps):
        kind, stream = step[0], STREAMS[step[1]]
        try:
            if kind == "append":
                events = [Noted(text=f"{number}.{i}") for i in range(step[2])]
                expected = NO_VERSIONING if step[3] == "unversioned" else step[3]
                store.append(*events, stream_id=stream, expected_version=expected)
                outcomes.append("ok")
            elif kind == "snapshot" and step[2] in snapshot_versions.get(step[1], set()):
                outcomes.append(TIED)
            elif kind == "snapshot":
                snapshot_versions.setdefault(step[1], set()).add(step[2])
                snapshot = WrappedEvent.wrap(Noted(text=f"snapshot {number}"), version=step[2])
                store.save_snapshot(stream, snapshot)
                outcomes.append("ok")
            elif kind == "delete":
                snapshot_versions.pop(step[1], None)
                store.delete_stream(stream)
                outcomes.append("ok")
            else:
                loaded = store.load_stream(stream, start=step[2], stop=step[3])
                outcomes.append([(e.event.text, e.version) for e in loaded])  # type: ignore[attr-defined]
        except Exception as error:
            outcomes.append(type(error).__name__)
    return outcomes


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(operations, min_size=1, max_size=12))
@pytest.mark.parametrize(
    "adapter", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_django_matches_the_reference(adapter: str, steps: list[Operation]) -> None:
    tenant = uuid4().hex
    reference = InMemoryBackend().configure().in_tenant_mode(tenant)
    django = build_backend(adapter).in_tenant_mode(tenant)
    assert _run(django, steps) == _run(reference, steps)
