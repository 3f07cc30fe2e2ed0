"""Event names derived from a module only one process has are refused at append.

The contract kit checks ``__main__`` and ``builtins`` on every adapter; this covers each module of
the rule, the names that stay allowed, and that the error survives pickling (the relay and the
runner pass errors between processes in their logs and tests).
"""

import pickle
from datetime import UTC, datetime
from uuid import uuid4

import django.core.management.commands.shell
import pytest
from event_sourcery import Event, StreamId
from event_sourcery.event import RawEvent

from eventhex_core_ports import InMemoryBackend
from eventhex_core_ports._internal.validation import (
    DEFAULT_MAX_EVENT_BYTES,
    UNSTABLE_EVENT_MODULES,
    check_event,
)
from eventhex_core_ports.errors import InvalidEventName, UnstableEventName


def _raw(name: str) -> RawEvent:
    return RawEvent(
        uuid=uuid4(),
        stream_id=StreamId(),
        created_at=datetime.now(UTC).replace(tzinfo=None),
        version=1,
        name=name,
        data={},
        context={},
    )


@pytest.mark.parametrize("module", UNSTABLE_EVENT_MODULES)
def test_a_name_from_an_unstable_module_is_refused(module: str) -> None:
    with pytest.raises(UnstableEventName) as raised:
        check_event(_raw(f"{module}.Orders.OrderPlaced"), DEFAULT_MAX_EVENT_BYTES)
    message = str(raised.value)
    assert message.startswith(f"OrderPlaced's event name '{module}.Orders.OrderPlaced' ")
    assert f"comes from module {module!r}" in message
    assert "cannot be read by other processes" in message
    assert "__event_name__ = 'myapp.Orders.OrderPlaced'" in message
    assert isinstance(raised.value, InvalidEventName)


@pytest.mark.parametrize(
    "name",
    [
        "shop.OrderPlaced",
        "tests.test_orders.OrderPlaced",  # test modules are importable: allowed
        "__main__",  # a chosen name that is only the module's is not derived from it
        "__main__x.OrderPlaced",
        "mybuiltins.OrderPlaced",
        "django.core.management.commands.shell_plus.OrderPlaced",
    ],
)
def test_other_names_are_allowed(name: str) -> None:
    check_event(_raw(name), DEFAULT_MAX_EVENT_BYTES)


def test_an_event_class_defined_in_manage_py_shell_is_refused_at_append() -> None:
    class OrderPlaced(Event):  # as `manage.py shell -c` defines it
        __module__ = django.core.management.commands.shell.__name__
        order_id: str

    backend = InMemoryBackend().configure()
    with pytest.raises(UnstableEventName, match=r"django\.core\.management\.commands\.shell"):
        backend.event_store.append(OrderPlaced(order_id="1"), stream_id=StreamId())


def test_the_error_survives_pickling() -> None:
    error = UnstableEventName("__main__.OrderPlaced", "__main__")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.name, copy.module, str(copy)) == (error.name, error.module, str(error))
