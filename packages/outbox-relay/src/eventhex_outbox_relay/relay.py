"""The relay loop: claim a batch, publish it outside any transaction, acknowledge, retry.

A batch holds runs of consecutive entries of each stream, in entry order. Publishers keep a
stream's order; the relay settles each stream in order too: it acknowledges the stream's
messages up to its first failed one, charges that one an attempt (a retry later, or the dead
letters), and releases the rest of the stream uncharged, so that they follow it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Sequence
from datetime import timedelta

from eventhex_core_ports._internal.logs import bind
from eventhex_core_ports.ports.relay import (
    OutboxMessage,
    OutboxSource,
    OutboxSourceUnusable,
    Publisher,
    PublisherUnavailable,
    PublishOutcome,
)
from eventhex_outbox_relay._backoff import Backoff
from eventhex_outbox_relay._clock import utc_now
from eventhex_outbox_relay.metrics import RelayMetrics

__all__ = ["DrainGaveUp", "Relay", "RelayReport"]

logger = logging.getLogger("eventhex.relay")


@dataclasses.dataclass
class RelayReport:
    """What a relay did since it started.

    Attributes:
        published: Messages the broker accepted.
        retried: Failed messages scheduled for another attempt.
        dead_lettered: Messages moved to the dead letters.
        outages: Batches given back because the broker was unreachable.
        seconds: Wall time of the run.
    """

    published: int = 0
    retried: int = 0
    dead_lettered: int = 0
    outages: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """One line a person can read."""
        rate = self.published / self.seconds if self.seconds else 0.0
        return (
            f"published {self.published} ({rate:,.0f}/s), retried {self.retried}, "
            f"dead-lettered {self.dead_lettered}, broker outages {self.outages}, "
            f"in {self.seconds:.1f}s"
        )


class DrainGaveUp(Exception):
    """A drain could not reach the broker or the outbox for longer than it may wait.

    Attributes:
        seconds: How long it kept trying.
        error: The last error, as the broker or the database gave it.
    """

    def __init__(self, seconds: float, error: str) -> None:
        super().__init__(f"gave up after {seconds:.0f}s of failures; the last: {error}")
        self.seconds = seconds
        self.error = error


class Relay:
    """Moves entries from an outbox source to a publisher.

    Args:
        source: Where entries come from.
        publisher: Where they go.
        owner: This relay's unique id; claims are made in its name.
        batch_size: Entries claimed at once.
        lease: How long a claim keeps other relays away; longer than publishing a batch takes.
        poll_interval: Longest wait for new entries before claiming again (seconds).
        backoff: Delays between a message's failed attempts, and after broker outages.
        metrics: Counters to feed.
    """

    def __init__(
        self,
        source: OutboxSource,
        publisher: Publisher,
        *,
        owner: str,
        batch_size: int = 500,
        lease: timedelta = timedelta(seconds=30),
        poll_interval: float = 1.0,
        backoff: Backoff | None = None,
        metrics: RelayMetrics | None = None,
    ) -> None:
        self.source = source
        self.publisher = publisher
        self.owner = owner
        self.batch_size = batch_size
        self.lease = lease
        self.poll_interval = poll_interval
        self.backoff = backoff or Backoff(base=1.0, maximum=300.0)
        self.metrics = metrics or RelayMetrics()
        self.report = RelayReport()
        self.last_beat = time.monotonic()
        self._stopping = threading.Event()
        self._outages = 0
        self._batches = 0
        self._give_up_after: float | None = None
        self._failing_since: float | None = None

    def stop(self) -> None:
        """Ask the loop to finish the batch in hand, give back its claims and return."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stopping.is_set()

    def run(self, *, drain: bool = False, give_up_after: float | None = None) -> RelayReport:
        """Relay until stopped; with ``drain``, also stop once no live entry is left.

        Args:
            drain: Return once the outbox has no live entry.
            give_up_after: Seconds of failing without a break (broker unreachable, outbox
                database away) after which to give up; None retries for ever, as a service
                should. A one-off drain sets it.

        Returns:
            What was done.

        Raises:
            OutboxSourceUnusable: The source cannot work until someone acts (its tables are
                not migrated): retrying would only repeat the error.
            DrainGaveUp: Failures lasted ``give_up_after`` seconds.
        """
        self._give_up_after = give_up_after
        self._failing_since = None
        started = time.monotonic()
        bind(owner=self.owner)
        logger.info(
            "relay started", extra={"owner": self.owner, "drain": drain, "batch": self.batch_size}
        )
        unusable = False  # then it holds no claims, and releasing would fail the same way
        try:
            while not self._stopping.is_set():
                self.last_beat = time.monotonic()
                try:
                    if self.step():
                        continue
                    if drain and self._outbox_is_empty():
                        break
                    self._failing_since = None
                    self._keep_publisher_alive()
                    self.source.wait_for_entries(self.poll_interval)
                except (OutboxSourceUnusable, DrainGaveUp) as error:
                    unusable = isinstance(error, OutboxSourceUnusable)
                    raise
                except Exception as error:  # the outbox's database is away: keep trying, calmly
                    logger.exception("outbox source failed", extra={"owner": self.owner})
                    self._pause(self.backoff.delay(1), f"{type(error).__name__}: {error}")
        finally:
            released = 0 if unusable else self._release_all()
            self.report.seconds = time.monotonic() - started
            logger.info(
                "relay stopped",
                extra={"owner": self.owner, "released": released, "summary": self.report.summary()},
            )
        return self.report

    def _keep_publisher_alive(self) -> None:
        try:
            self.publisher.keep_alive()
        except Exception:  # a keep-alive is a courtesy: the next publish finds what is broken
            logger.exception("publisher keep-alive failed", extra={"owner": self.owner})

    def _release_all(self) -> int:
        try:
            return self.source.release(self.owner)
        except Exception:  # its leases will expire instead
            logger.exception("could not release claims", extra={"owner": self.owner})
            return 0

    def _outbox_is_empty(self) -> bool:
        stats = self.source.stats()
        return stats.pending == 0 and stats.in_flight == 0

    def step(self) -> int:
        """Claim, publish and settle one batch.

        Returns:
            How many entries were claimed (0 when nothing was due).
        """
        batch = self.source.claim(self.owner, self.batch_size, self.lease)
        if not batch:
            return 0
        self._batches += 1
        bind(batch=self._batches)
        try:
            outcomes = self.publisher.publish(batch)
        except PublisherUnavailable as error:
            self._pause_for_outage(batch, error)
            return len(batch)
        except Exception as error:
            logger.exception("publisher failed on a batch", extra={"owner": self.owner})
            outcomes = [
                PublishOutcome(m.entry_id, False, f"{type(error).__name__}: {error}") for m in batch
            ]
        self._outages = 0
        self._failing_since = None
        self._settle(batch, outcomes)
        return len(batch)

    def _pause_for_outage(
        self, batch: Sequence[OutboxMessage], error: PublisherUnavailable
    ) -> None:
        delivered, _, rest = _in_stream_order(batch, set(error.delivered), {})
        if delivered:
            self.source.acknowledge(delivered)
            self.report.published += len(delivered)
            self.metrics.published(len(delivered))
        self.source.release(self.owner, rest)
        self._outages += 1
        self.report.outages += 1
        delay = self.backoff.delay(self._outages)
        logger.warning(
            "broker unavailable; batch released",
            extra={"owner": self.owner, "error": str(error), "retry_in": round(delay, 3)},
        )
        self._pause(delay, f"broker unavailable: {error}")

    def _pause(self, delay: float, error: str) -> None:
        """Wait ``delay`` seconds after a failure, or give up when failures have lasted
        ``give_up_after`` seconds (never waiting past that point).

        Raises:
            DrainGaveUp: The failures lasted too long.
        """
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        if self._give_up_after is not None:
            left = self._failing_since + self._give_up_after - now
            if left <= 0:
                raise DrainGaveUp(now - self._failing_since, error)
            delay = min(delay, left)
        self._stopping.wait(delay)

    def _settle(self, batch: Sequence[OutboxMessage], outcomes: Sequence[PublishOutcome]) -> None:
        """Acknowledge each stream's delivered messages up to its first failure, charge that one
        an attempt (unless the publisher did not attempt it), and release the stream's messages
        after it uncharged."""
        errors = {m.entry_id: "publisher reported no outcome" for m in batch}
        for outcome in outcomes:
            if outcome.delivered or not outcome.attempted:
                errors.pop(outcome.entry_id, None)
            else:
                errors[outcome.entry_id] = outcome.error
        delivered_ids = {o.entry_id for o in outcomes if o.delivered}
        delivered, failed, held_back = _in_stream_order(batch, delivered_ids, errors)
        if delivered:
            self.source.acknowledge(delivered)
            self.report.published += len(delivered)
            self.metrics.published(len(delivered))
        for message in failed:
            self._fail(message, errors[message.entry_id])
        if held_back:
            self.source.release(self.owner, held_back)
        logger.debug(
            "batch settled",
            extra={"claimed": len(batch), "delivered": len(delivered), "held_back": len(held_back)},
        )

    def _fail(self, message: OutboxMessage, error: str) -> None:
        attempts = message.attempts + 1
        self.metrics.failed(1)
        if attempts >= message.max_attempts:
            if self.source.dead_letter(self.owner, message.entry_id, error):
                self.report.dead_lettered += 1
                self.metrics.dead_lettered(1)
            logger.error(
                "message dead-lettered",
                extra={
                    "entry_id": message.entry_id,
                    "event_uuid": str(message.event_uuid),
                    "attempts": attempts,
                    "error": error,
                },
            )
            return
        delay = self.backoff.delay(attempts)
        retry_at = utc_now() + timedelta(seconds=delay)
        if self.source.retry_later(self.owner, message.entry_id, error, retry_at):
            self.report.retried += 1
        logger.warning(
            "message failed; will retry",
            extra={
                "entry_id": message.entry_id,
                "event_uuid": str(message.event_uuid),
                "attempts": attempts,
                "retry_in": round(delay, 3),
                "error": error,
            },
        )


def _in_stream_order(
    batch: Sequence[OutboxMessage], delivered: set[int], errors: dict[int, str]
) -> tuple[list[int], list[OutboxMessage], list[int]]:
    """Split a batch by stream order: the delivered messages no failure of their stream
    precedes, the first failed message of each stream, and the ids of the messages behind it
    (held back whatever the publisher said of them, so that none overtakes the failed one)."""
    acknowledged: list[int] = []
    failed: list[OutboxMessage] = []
    held_back: list[int] = []
    stopped: set[str] = set()
    for message in batch:
        stream = message.partition_key
        if stream in stopped:
            held_back.append(message.entry_id)
        elif message.entry_id in delivered:
            acknowledged.append(message.entry_id)
        else:
            stopped.add(stream)
            if message.entry_id in errors:
                failed.append(message)
            else:  # not attempted, or cut short by an outage: nothing to charge
                held_back.append(message.entry_id)
    return acknowledged, failed, held_back
