"""Projection tables: each projection's checkpoint and owner, and the events it parked.

``ProjectionState`` is the single row every batch of a projection (of one shard of one version
of it) locks and moves: its ``position`` is the checkpoint, ``generation`` the fencing token
that changes whenever another runner (or a rebuild) takes the projection over. ``ParkedEvent``
keeps an event whose handler kept failing, with the traceback, until an operator retries or
skips it.
"""

from django.db import models

__all__ = ["ParkedEvent", "ProjectionState"]

POSITION_DIGITS = 40
"""Positions are opaque integers that may need more than 64 bits (PostgreSQL encodes two)."""


class ProjectionState(models.Model):
    """One shard of one version of a registered projection: checkpoint, state, owner, counters.

    ``name`` is the row's own name (``orders``, ``orders#3/8``, ``orders@v2#3/8``);
    ``projection``, ``version``, ``shard`` and ``shards`` say what it is a part of.
    ``caught_up_at`` is when its worker first read everything there was (a new version goes
    live once every shard of it has).
    """

    class State(models.TextChoices):
        RUNNING = "running", "running"
        STOPPED = "stopped", "stopped"
        REBUILDING = "rebuilding", "rebuilding"
        RETIRED = "retired", "retired"

    name = models.CharField(max_length=255, unique=True)
    projection = models.CharField(max_length=255, default="", blank=True, db_index=True)
    version = models.IntegerField(default=1)
    shard = models.IntegerField(default=0)
    shards = models.IntegerField(default=1)
    caught_up_at = models.DateTimeField(null=True, blank=True)
    position = models.DecimalField(max_digits=POSITION_DIGITS, decimal_places=0, default=0)
    last_event_uuid = models.UUIDField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    applied = models.BigIntegerField(default=0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.RUNNING)
    generation = models.BigIntegerField(default=0)
    owner = models.CharField(max_length=255, default="", blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(default="", blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "eventhex_projection"
        verbose_name = "projection"
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class ParkedEvent(models.Model):
    """An event a projection's handler failed on ``attempts`` times, kept with its traceback."""

    class Status(models.TextChoices):
        PARKED = "parked", "parked"
        RETRIED = "retried", "retried"
        SKIPPED = "skipped", "skipped"

    projection = models.ForeignKey(
        ProjectionState, on_delete=models.CASCADE, related_name="parked_events"
    )
    event_uuid = models.UUIDField()
    event_name = models.CharField(max_length=255)
    stream_uuid = models.UUIDField()
    stream_name = models.CharField(max_length=255, null=True, blank=True)
    stream_category = models.CharField(max_length=255, default="", blank=True)
    tenant_id = models.CharField(max_length=255, default="", blank=True)
    version = models.IntegerField(null=True, blank=True)
    position = models.DecimalField(max_digits=POSITION_DIGITS, decimal_places=0)
    previous_position = models.DecimalField(max_digits=POSITION_DIGITS, decimal_places=0)
    error = models.TextField()
    attempts = models.IntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PARKED)
    parked_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "eventhex_parked_event"
        verbose_name = "parked event"
        ordering = ("id",)
        constraints = [
            models.UniqueConstraint(
                fields=["projection", "event_uuid"], name="eventhex_parked_event_uniq"
            ),
        ]
        indexes = [
            models.Index(fields=["projection", "status"], name="eventhex_parked_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_name} ({self.event_uuid}) in {self.projection_id}"
