"""One owned projection's loop: subscribe from the checkpoint, apply batches, park failures.

A failure is a handler that raises or an event that cannot be built (its name matches no
registered class, its payload no longer validates). Either is tried ``attempts`` times with
``last_error`` set on the projection's row, then parked: the projection goes on past it or stops
at it, as ``on_failure`` says.
"""

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from django.db import connections, transaction
from event_sourcery.event import EventRegistry, Recorded, RecordedRaw
from event_sourcery.subscription import BuildPhase

from eventhex_django_adapter import SchemaNotMigrated
from eventhex_django_adapter._codec import format_position
from eventhex_django_adapter._failure_text import carries_encrypted_fields, failure_text
from eventhex_django_adapter.backend import DjangoBackend
from eventhex_django_adapter.projections import _store
from eventhex_django_adapter.projections._projection import Projection
from eventhex_django_adapter.projections._shards import Unit, units_of
from eventhex_django_adapter.projections._store import Claim, Fenced, Moved
from eventhex_django_adapter.projections._undecodable import (
    Undecodable,
    decode,
    read_until_undecodable,
)
from eventhex_django_adapter.projections.metrics import ProjectionMetrics
from eventhex_django_adapter.projections.models import ProjectionState

__all__ = ["ProjectionWorker", "subscribe"]

logger = logging.getLogger("eventhex_django_adapter.projections")

CONTROL_EVERY = 1.0
"""Seconds between two looks at the projection's row while following or waiting."""


class _HandlerFailed(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class _Interrupted(Exception):
    """The runner is stopping while an event waits for its next try."""


def subscribe(
    backend: DjangoBackend, projection: Projection, position: int, size: int | None = None
) -> Iterator[list[Recorded]]:
    """Batches of the projection's selected events after ``position`` (``size`` or its
    ``batch_size`` at a time), forever."""
    start = backend.subscriber.start_from(position)
    phase: BuildPhase = start
    types = projection.selected_types()
    if projection.category is not None:
        phase = start.to_category(projection.category)
    elif types is not None:
        phase = start.to_events(list(types))
    return phase.build_batch(size or projection.batch_size, projection.batch_wait)


class ProjectionWorker:
    """Applies one projection's events for as long as its claim holds.

    Args:
        projection: The projection to run.
        backend: Where its events come from.
        alias: The database of the event store, the checkpoints and the read model.
        held: The claim the runner took; every batch checks it is still current.
        stop: Set when the whole runner stops: finish the batch and return.
        metrics: Where applied, failed and parked events are counted.
        state: The state the projection must be in to be worked on (a rebuild works on a
            ``rebuilding`` one).
        until_caught_up: Return once a batch comes back short: everything readable is applied.
        on_batch: Called with (events, new position) after each batch commits.
        recovering_from: The traceback the previous worker of this projection stopped on; it is
            cleared from ``last_error`` once this worker reads, so the projection stops showing
            as failing when the cause has passed.
        unit: The shard (and version) to work on: its row and which streams' events are its
            own (default: the projection's only row).
    """

    def __init__(
        self,
        projection: Projection,
        backend: DjangoBackend,
        alias: str,
        held: Claim,
        stop: threading.Event,
        metrics: ProjectionMetrics,
        *,
        state: str = ProjectionState.State.RUNNING,
        until_caught_up: bool = False,
        on_batch: Callable[[int, int], None] | None = None,
        recovering_from: str = "",
        unit: Unit | None = None,
    ) -> None:
        self.projection = projection
        self.held = held
        self.quit = threading.Event()
        self.done = threading.Event()
        self.failed = False
        self.unmigrated: SchemaNotMigrated | None = None
        self.error = ""
        self._backend = backend
        self._alias = alias
        self._stop = stop
        self._metrics = metrics
        self.unit = unit or units_of(projection)[0]
        self._name = self.unit.row
        self._marked_caught_up = False
        self._state = state
        self._until_caught_up = until_caught_up
        self._on_batch = on_batch
        self._recovering_from = recovering_from
        self.caught_up = False

    def start(self) -> threading.Thread:
        """Run in a new daemon thread."""
        thread = threading.Thread(target=self.run, name=f"projection {self._name}", daemon=True)
        thread.start()
        return thread

    def run(self) -> None:
        """The thread's body: follow until stopped, released or taken over."""
        try:
            self._run()
        except Fenced:
            logger.warning(
                "projection %s was taken over by another owner", self._name, extra=self._extra()
            )
        except SchemaNotMigrated as error:  # the runner stops with it: no retry can succeed
            self.failed = True
            self.unmigrated = error
        except Exception as error:
            self.failed = True
            logger.exception("projection %s stopped on an error", self._name, extra=self._extra())
            # Stored without the database's DETAIL values (ADR 17); not an event's own failure.
            self.error = failure_text(error, keep_messages=True)
            self._note_failure(self.error)
        finally:
            connections.close_all()
            self.done.set()

    def _extra(self, **more: object) -> dict[str, object]:
        return {"projection": self._name, "owner": self.held.owner, **more}

    def _note_failure(self, error: str) -> None:
        """Show ``error`` as the projection's ``last_error`` (status: failing), if the database
        takes it: the failure may be the database's."""
        try:
            _store.note_failure(self._alias, self.held, error)
        except Exception:
            logger.warning(
                "projection %s: could not record its error", self._name, extra=self._extra()
            )

    def _stopping(self) -> bool:
        return self._stop.is_set() or self.quit.is_set() or self.caught_up

    def _run(self) -> None:
        while not self._stopping():
            row = self._row()
            if row.state != self._state:
                if self._until_caught_up:  # a rebuild does not wait for an operator
                    return
                self._wait(CONTROL_EVERY)
                continue
            self._follow(int(row.position))

    def _row(self) -> ProjectionState:
        row = _store.read_row(self._alias, self._name)
        if row.generation != self.held.generation:
            raise Fenced(self._name)
        return row

    def _wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when the worker must stop."""
        deadline = time.monotonic() + seconds
        while not self._stopping():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.quit.wait(min(left, 0.1))
        return True

    def _follow(self, position: int) -> None:
        logger.info(
            "projection %s following from position %s",
            self._name,
            format_position(position),
            extra=self._extra(position=position),
        )
        control_due = time.monotonic() + CONTROL_EVERY
        # A shard keeps about one event in ``shards``: it reads that many more per batch.
        size = self.projection.batch_size * self.unit.shards
        batches = subscribe(self._backend, self.projection, position, size)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except Exception as error:
                self._apply_until_undecodable(position, error)
                return  # the read ended with the error: subscribe again from the checkpoint
            if self._recovering_from:
                _store.clear_failure(self._alias, self.held, self._recovering_from)
                self._recovering_from = ""
            if batch:
                own = [r for r in batch if self.unit.selects(r.stream_id)]
                try:
                    if own:
                        position = self._apply(own, position)
                    if position != batch[-1].position:  # other shards' events at the end
                        position = self._pass(batch[-1], position)
                except (Moved, _Interrupted):
                    return
                self._batch_done(len(own), position)
            if len(batch) < size:
                self._caught_up()
            if self._stopping():
                return
            if time.monotonic() >= control_due:
                control_due = time.monotonic() + CONTROL_EVERY
                row = self._row()
                if int(row.position) != position or row.state != self._state:
                    return

    def _batch_done(self, count: int, position: int) -> None:
        if self._on_batch is not None:
            self._on_batch(count, position)

    def _apply_until_undecodable(self, position: int, error: Exception) -> None:
        """After a failed read: apply what builds, then try (and park) the event that does not.

        Raises the read's error again when every event builds: it was not the events' fault.
        """
        built, undecodable = read_until_undecodable(self._backend, self.projection, position)
        if undecodable is None:
            raise error
        own = [r for r in built if self.unit.selects(r.stream_id)]
        try:
            if own:
                position = self._apply(own, position)
                self._batch_done(len(own), position)
            if not self.unit.selects(undecodable.record.entry.stream_id):
                self._pass_undecodable(undecodable.record, position)  # another shard's
                return
            self._retry_undecodable(undecodable, position)
        except (Moved, _Interrupted):
            return

    def _retry_undecodable(self, undecodable: Undecodable, position: int) -> None:
        """Build the event again up to ``attempts`` times, then park it."""
        record, projection = undecodable.record, self.projection
        for attempt in range(1, projection.attempts + 1):
            self._metrics.failed(self._name)
            self._note_failure(undecodable.error)
            logger.warning(
                "projection %s: cannot build event %s (%s) at position %s (try %d of %d): %s",
                self._name,
                record.entry.uuid,
                record.entry.name,
                format_position(record.position),
                attempt,
                projection.attempts,
                undecodable.error.strip().splitlines()[-1],
                extra=self._extra(event_uuid=str(record.entry.uuid), attempt=attempt),
            )
            delay = min(projection.retry_delay * 2 ** (attempt - 1), projection.max_retry_delay)
            if attempt == projection.attempts:
                break
            if self._wait(delay):
                raise _Interrupted
            built = decode(self._backend, record)
            if not isinstance(built, Undecodable):
                return  # its class is there now: the next read applies it
            undecodable = built
        self._park(record, position, undecodable.error)

    def _caught_up(self) -> None:
        if self._until_caught_up:
            self.caught_up = True
        if not self._marked_caught_up:
            _store.mark_caught_up(self._alias, self.held)
            self._marked_caught_up = True

    def _pass(self, record: Recorded, position: int) -> int:
        """Move the checkpoint past events of other shards that end a batch."""
        with transaction.atomic(using=self._alias):
            _store.lock_for_batch(self._alias, self.held, position, self._state)
            return _store.advance(self._alias, self._name, [], through=record)

    def _pass_undecodable(self, record: RecordedRaw, position: int) -> None:
        """Move past an event of another shard that cannot be built: that shard parks it."""
        with transaction.atomic(using=self._alias):
            _store.lock_for_batch(self._alias, self.held, position, self._state)
            _store.pass_raw(self._alias, self._name, record)

    def _apply(self, batch: Sequence[Recorded], position: int) -> int:
        if self.projection.delivery == "exactly_once":
            try:
                return self._commit(batch, position)
            except _HandlerFailed:
                pass  # rolled back; apply one event per transaction to find the failing one
        for record in batch:
            position = self._apply_one(record, position)
        return position

    def _commit(self, records: Sequence[Recorded], position: int) -> int:
        if self.projection.delivery == "at_least_once":
            return self._deliver(records[0], position)
        with transaction.atomic(using=self._alias):
            _store.lock_for_batch(self._alias, self.held, position, self._state)
            self._handle(records)
            position = _store.advance(self._alias, self._name, records)
        self._metrics.applied(self._name, len(records))
        return position

    def _deliver(self, record: Recorded, position: int) -> int:
        """At least once: check the fence, run the handler outside a transaction, checkpoint."""
        with transaction.atomic(using=self._alias):
            _store.lock_for_batch(self._alias, self.held, position, self._state)
        self._handle([record])
        with transaction.atomic(using=self._alias):
            _store.lock_for_batch(self._alias, self.held, position, self._state)
            position = _store.advance(self._alias, self._name, [record])
        self._metrics.applied(self._name, 1)
        return position

    def _handle(self, records: Sequence[Recorded]) -> None:
        try:
            self.projection.handle_batch(records)
        except Exception as error:
            self._metrics.failed(self._name)
            registry = self._backend[EventRegistry]
            secret = carries_encrypted_fields(registry, (r.wrapped_event.event for r in records))
            raise _HandlerFailed(failure_text(error, keep_messages=not secret)) from error

    def _apply_one(self, record: Recorded, position: int) -> int:
        projection = self.projection
        failure = _HandlerFailed("")
        for attempt in range(1, projection.attempts + 1):
            try:
                return self._commit([record], position)
            except _HandlerFailed as failed:
                failure = failed
            self._note_failure(failure.error)
            logger.warning(
                "projection %s: handler failed on event %s (try %d of %d)",
                self._name,
                record.wrapped_event.uuid,
                attempt,
                projection.attempts,
                extra=self._extra(event_uuid=str(record.wrapped_event.uuid), attempt=attempt),
            )
            delay = min(projection.retry_delay * 2 ** (attempt - 1), projection.max_retry_delay)
            if attempt < projection.attempts and self._wait(delay):
                raise _Interrupted
        return self._park(record, position, failure.error)

    def _park(self, record: Recorded | RecordedRaw, position: int, error: str) -> int:
        projection = self.projection
        go_on = projection.on_failure == "park"
        if isinstance(record, RecordedRaw):
            name, uuid = record.entry.name, record.entry.uuid
        else:
            name = self._backend[EventRegistry].name_for_type(type(record.wrapped_event.event))
            uuid = record.wrapped_event.uuid
        _store.park(
            self._alias,
            self.held,
            record,
            name,
            position,
            error,
            projection.attempts,
            go_on,
            self._state,
        )
        self._metrics.parked(self._name)
        logger.error(
            "projection %s parked event %s (%s) at position %s after %d tries; %s",
            self._name,
            uuid,
            name,
            format_position(record.position),
            projection.attempts,
            "going on" if go_on else "stopped until it is retried or skipped",
            extra=self._extra(event_uuid=str(uuid)),
        )
        if not go_on:
            raise Moved(self._name)
        return record.position
