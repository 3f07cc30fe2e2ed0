"""The relay's composition root: parts are swapped by container overrides, never by patching."""

from collections.abc import Sequence

from dependency_injector import providers

from eventhex_core_ports.in_memory import InMemoryOutboxSource
from eventhex_core_ports.ports.relay import OutboxMessage, Publisher, PublishOutcome
from eventhex_outbox_relay.cli import main
from eventhex_outbox_relay.container import RelayContainer


class RecordingPublisher(Publisher):
    """Keeps what it is given; every message counts as delivered."""

    def __init__(self) -> None:
        self.messages: list[OutboxMessage] = []

    def publish(self, messages: Sequence[OutboxMessage]) -> list[PublishOutcome]:
        self.messages.extend(messages)
        return [PublishOutcome(m.entry_id, True) for m in messages]

    def close(self) -> None:
        pass


def test_drain_uses_the_overridden_source_and_publisher() -> None:
    source = InMemoryOutboxSource()
    sent = [source.enqueue(event_name=f"e{n}") for n in range(3)]
    publisher = RecordingPublisher()
    container = RelayContainer()
    container.source.override(providers.Object(source))
    container.publisher.override(providers.Object(publisher))

    code = main(["drain", "--source", "unused:unused", "--publisher", "stdout:"], container)

    assert code == 0
    assert [m.event_uuid for m in publisher.messages] == [m.event_uuid for m in sent]
    assert source.stats().pending == 0
