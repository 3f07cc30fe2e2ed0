"""``ProjectionRunner``: the daemon behind ``manage.py eventhex_projections run``."""

import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta

from django.db import DatabaseError, connections

from eventhex_django_adapter._db import raise_if_unmigrated
from eventhex_django_adapter.backend import DjangoBackend
from eventhex_django_adapter.config import DjangoConfig
from eventhex_django_adapter.projections import _store
from eventhex_django_adapter.projections._ownership import Ownership, ownership_for
from eventhex_django_adapter.projections._projection import Projection
from eventhex_django_adapter.projections._shards import Unit, units_of
from eventhex_django_adapter.projections._versions import promote_caught_up, retired_rows
from eventhex_django_adapter.projections._worker import ProjectionWorker
from eventhex_django_adapter.projections.metrics import ProjectionMetrics

__all__ = ["ProjectionRunner", "runner_name"]

logger = logging.getLogger("eventhex_django_adapter.projections")

RETRY_AFTER_ERROR = 2.0
"""Seconds before a runner claims a projection again whose worker stopped on an error."""


def runner_name() -> str:
    """``host:pid:random``, unique per runner process."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class ProjectionRunner:
    """Runs projections, each owned by exactly one live runner at a time.

    Every ``claim_interval`` it takes over projections (each shard of each version is one)
    that no live runner owns (up to its fair share, so several runners split the work), keeps
    its claims alive, and hands surplus back when more runners join. Each owned shard runs in
    its own thread. It also switches a caught-up new version live (see ``_versions``).

    Args:
        projections: What this runner may run.
        backend: Where the events come from (its database holds the checkpoints).
        stop: Set it to stop: each worker finishes its batch, then :meth:`run` returns.
        owner: This runner's name in the projection rows (default: host, pid, random).
        claim_interval: Seconds between two rounds of claiming and keeping claims.
        lease: Lease length where ownership is by lease (SQLite).
        metrics: Where counts go.
    """

    def __init__(
        self,
        projections: Sequence[Projection],
        backend: DjangoBackend,
        stop: threading.Event,
        *,
        owner: str | None = None,
        claim_interval: float = 0.5,
        lease: timedelta = timedelta(seconds=5),
        metrics: ProjectionMetrics | None = None,
    ) -> None:
        self.owner = owner or runner_name()
        self._projections = list(projections)
        self._units = [unit for p in self._projections for unit in units_of(p)]
        self._backend = backend
        self._alias = backend[DjangoConfig].database
        self._stop = stop
        self._interval = claim_interval
        self._lease = lease
        self._metrics = metrics or ProjectionMetrics()
        self._workers: dict[str, tuple[ProjectionWorker, threading.Thread]] = {}
        self._retry_at: dict[str, float] = {}
        self._errors: dict[str, str] = {}  # what each projection's last worker stopped on

    def run(self) -> None:
        """Run until ``stop`` is set; returns once every worker finished its batch.

        Raises:
            SchemaNotMigrated: The database lacks eventhex's tables or functions; every
                worker is stopped first.
        """
        names = [projection.name for projection in self._projections]
        try:
            _store.ensure_rows(self._alias, self._units)
        except DatabaseError as error:
            raise_if_unmigrated(error, self._alias)
            raise
        ownership = ownership_for(self._alias, self.owner, self._lease)
        logger.info(
            "projection runner %s started for %s",
            self.owner,
            ", ".join(names),
            extra={"owner": self.owner},
        )
        try:
            while not self._stop.is_set():
                self._round(ownership)
                self._stop.wait(self._interval)
        finally:
            self._shut_down(ownership)
        logger.info("projection runner %s stopped", self.owner, extra={"owner": self.owner})

    def owned(self) -> list[str]:
        """The names of the projections this runner works on now."""
        return sorted(self._workers)

    def _round(self, ownership: Ownership) -> None:
        self._reap(ownership)
        self._retire(ownership)
        lost = ownership.keep([worker.held for worker, _ in self._workers.values()])
        for name in lost:
            logger.warning("projection %s: ownership lost", name, extra={"projection": name})
            self._workers[name][0].quit.set()
        share = math.ceil(len(self._units) / ownership.live_runners())
        active = [name for name, (worker, _) in self._workers.items() if not worker.quit.is_set()]
        for name in active[share:]:  # more runners joined: hand surplus back
            logger.info("projection %s: handing over", name, extra={"projection": name})
            self._workers[name][0].quit.set()
        now = time.monotonic()
        for unit in self._units:
            if len(self._workers) >= share or self._stop.is_set():
                break
            name = unit.row
            if name in self._workers or self._retry_at.get(name, 0.0) > now:
                continue
            held = ownership.claim(name)
            if held is not None:
                self._start(unit, held)

    def _retire(self, ownership: Ownership) -> None:
        """Switch caught-up new versions live; drop the units of retired ones."""
        if any(p.version > 1 for p in self._projections):
            promote_caught_up(self._alias, self._projections)
            retired = retired_rows(self._alias, [unit.row for unit in self._units])
            self._units = [unit for unit in self._units if unit.row not in retired]
            for name in retired & set(self._workers):
                self._workers[name][0].quit.set()

    def _start(self, unit: Unit, held: _store.Claim) -> None:
        worker = ProjectionWorker(
            unit.projection,
            self._backend,
            self._alias,
            held,
            self._stop,
            self._metrics,
            unit=unit,
            recovering_from=self._errors.pop(unit.row, ""),
        )
        self._workers[unit.row] = (worker, worker.start())
        self._metrics.owned(unit.row, True)
        logger.info(
            "projection %s claimed (generation %d)",
            unit.row,
            held.generation,
            extra={"projection": unit.row, "owner": self.owner},
        )

    def _reap(self, ownership: Ownership) -> None:
        for name, (worker, thread) in list(self._workers.items()):
            if not worker.done.is_set():
                continue
            thread.join()
            if worker.unmigrated is not None:
                raise worker.unmigrated
            del self._workers[name]
            self._metrics.owned(name, False)
            if worker.failed:
                self._retry_at[name] = time.monotonic() + RETRY_AFTER_ERROR
                self._errors[name] = worker.error
            else:
                self._retry_at[name] = time.monotonic() + self._interval
            try:
                ownership.release(worker.held)
            except Exception:
                logger.exception("releasing %s failed", name, extra={"projection": name})

    def _shut_down(self, ownership: Ownership) -> None:
        for worker, _ in self._workers.values():
            worker.quit.set()
        for worker, thread in self._workers.values():
            thread.join()
            self._metrics.owned(worker.held.name, False)
            try:
                ownership.release(worker.held)
            except Exception:
                logger.exception("releasing %s failed", worker.held.name)
        self._workers.clear()
        ownership.close()
        connections.close_all()
