"""event_sourcery's ``EventStore`` and subscription builder, reading through the decoded-read
ports when the adapter implements them (:mod:`eventhex_core_ports.ports.decoded_reads`).

Both are drop-in subclasses: the same API and the same results, built with less work when the
wired strategy can build them, and exactly event_sourcery's behaviour otherwise. The container
provides them in place of event_sourcery's classes.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

from event_sourcery import EventStore, StreamId
from event_sourcery.event import Event, Position, Recorded, WrappedEvent
from event_sourcery.subscription import BuildPhase, FilterPhase, SubscriptionBuilder

from eventhex_core_ports._internal.serde import FastSerde
from eventhex_core_ports.ports.decoded_reads import RecordedSubscriptions, WrappedEventLoader

__all__ = ["DecodingEventStore", "DecodingSubscriptionBuilder"]


class DecodingEventStore(EventStore):
    """event_sourcery's ``EventStore``; loads through ``WrappedEventLoader`` when it can."""

    def load_stream(
        self,
        stream_id: StreamId,
        start: int | None = None,
        stop: int | None = None,
    ) -> Sequence[WrappedEvent[Any]]:
        """See ``EventStore.load_stream``."""
        storage, serde = self._storage_strategy, self._serde
        if isinstance(storage, WrappedEventLoader) and isinstance(serde, FastSerde):
            return storage.load_wrapped(stream_id, start, stop, serde)
        return super().load_stream(stream_id, start, stop)


@dataclass(repr=False)
class DecodingSubscriptionBuilder(SubscriptionBuilder):
    """event_sourcery's ``SubscriptionBuilder``; subscribes through ``RecordedSubscriptions``
    when it can."""

    _started: bool = field(init=False, default=False)
    _category: str | None = field(init=False, default=None)
    _event_names: list[str] | None = field(init=False, default=None)

    def start_from(self, position: Position) -> FilterPhase:
        """See ``SubscriptionBuilder.start_from``."""
        self._started = True
        return super().start_from(position)

    def to_category(self, category: str) -> BuildPhase:
        """See ``SubscriptionBuilder.to_category``."""
        built = super().to_category(category)
        self._category, self._event_names = category, None
        return built

    def to_events(self, events: list[type[Event]]) -> BuildPhase:
        """See ``SubscriptionBuilder.to_events``."""
        built = super().to_events(events)
        names = [self._serde.registry.name_for_type(event) for event in events]
        if isinstance(self._serde, FastSerde):  # events stored under old names, renamed since
            old = [old for name in names for old in self._serde.upcasters.old_names(name)]
            if old:
                names += old
                self._build = partial(
                    self._strategy.subscribe_to_events, start_from=self._position, events=names
                )
        self._category, self._event_names = None, names
        return built

    def build_iter(self, timelimit: float | timedelta) -> Iterator[Recorded | None]:
        """See ``SubscriptionBuilder.build_iter``."""
        batches = self._recorded(1, timelimit)
        if batches is None:
            return super().build_iter(timelimit)
        return (batch[0] if batch else None for batch in batches)

    def build_batch(self, size: int, timelimit: float | timedelta) -> Iterator[list[Recorded]]:
        """See ``SubscriptionBuilder.build_batch``."""
        batches = self._recorded(size, timelimit)
        return super().build_batch(size, timelimit) if batches is None else batches

    def _recorded(self, size: int, timelimit: float | timedelta) -> Iterator[list[Recorded]] | None:
        strategy, serde = self._strategy, self._serde
        if not isinstance(strategy, RecordedSubscriptions) or not isinstance(serde, FastSerde):
            return None
        if not self._started and self._category is None and self._event_names is None:
            return None  # event_sourcery's builder decides what a missing start means
        seconds = self._to_timedelta(timelimit)  # raises as event_sourcery's does
        return strategy.subscribe_recorded(
            serde,
            start_from=self._position,
            batch_size=size,
            timelimit=seconds,
            category=self._category,
            event_names=self._event_names,
        )
