"""The event store schema (app label ``eventhex``, tables ``eventhex_*``).

On PostgreSQL, ``Event.tx_id`` is the writing transaction's id plus the store's shift (ADR 0010),
stamped by the column default or, for a row that arrives without one, by a trigger
(``migrations/sql/0001/position_clock.sql``); it makes commit order readable (see the
subscription module). On SQLite it stays NULL and the event id
alone orders events.
"""

from django.db import models
from django.db.models import Q

__all__ = [
    "EncryptionKey",
    "Event",
    "OutboxEntry",
    "ProjectionCursor",
    "Snapshot",
    "Stream",
]


class Stream(models.Model):
    """One event stream: identified by (tenant, category, uuid), optionally named."""

    uuid = models.UUIDField()
    name = models.CharField(max_length=255, null=True, blank=True)
    category = models.CharField(max_length=255, default="", blank=True)
    tenant_id = models.CharField(max_length=255, default="", blank=True)
    version = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant_id", "category", "uuid"], name="eventhex_stream_uuid_uniq"
            ),
            # Partial, so that only a lookup by name can use it: a lookup by uuid matches its
            # first two columns too, and taking it would filter every stream of the category.
            models.UniqueConstraint(
                fields=["tenant_id", "category", "name"],
                condition=Q(name__isnull=False),
                name="eventhex_stream_name_uniq",
            ),
        ]
        indexes = [
            # The admin's searches: by name (exact, or a prefix with LIKE 'name%', which needs
            # the pattern operator class outside the C collation) and by uuid alone.
            models.Index(
                fields=["name"], name="eventhex_stream_name_idx", opclasses=["varchar_pattern_ops"]
            ),
            models.Index(fields=["uuid"], name="eventhex_stream_uuid_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.category or '-'}/{self.name or self.uuid}"


class Event(models.Model):
    """One recorded event; ``category`` and ``tenant_id`` are copied from its stream."""

    # No index of its own: eventhex_event_version_uniq (stream, version) serves lookups by stream.
    stream = models.ForeignKey(
        Stream, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    version = models.IntegerField(null=True, blank=True)
    uuid = models.UUIDField(unique=True)
    name = models.CharField(max_length=255)
    data = models.JSONField()
    context = models.JSONField()
    created_at = models.DateTimeField()
    category = models.CharField(max_length=255, default="", blank=True)
    tenant_id = models.CharField(max_length=255, default="", blank=True)
    tx_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stream", "version"], name="eventhex_event_version_uniq"
            ),
        ]
        indexes = [
            models.Index(fields=["tx_id", "id"], name="eventhex_event_tx_idx"),
            models.Index(fields=["category", "tx_id", "id"], name="eventhex_event_category_idx"),
            models.Index(fields=["name", "tx_id", "id"], name="eventhex_event_name_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.uuid})"


class Snapshot(models.Model):
    """A stream state saved at ``version``; reads start from the newest one in range."""

    uuid = models.UUIDField(primary_key=True)
    # No index of its own: eventhex_snapshot_version_idx (stream, version) serves it.
    stream = models.ForeignKey(
        Stream, on_delete=models.CASCADE, related_name="snapshots", db_index=False
    )
    version = models.IntegerField()
    name = models.CharField(max_length=255)
    data = models.JSONField()
    context = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["stream", "version"], name="eventhex_snapshot_version_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} @v{self.version}"


class OutboxEntry(models.Model):
    """An event waiting to be published; deleted once acknowledged."""

    event_uuid = models.UUIDField()
    event_name = models.CharField(max_length=255)
    stream_uuid = models.UUIDField()
    stream_name = models.CharField(max_length=255, null=True, blank=True)
    stream_category = models.CharField(max_length=255, default="", blank=True)
    tenant_id = models.CharField(max_length=255, default="", blank=True)
    version = models.IntegerField(null=True, blank=True)
    position = models.DecimalField(max_digits=40, decimal_places=0)
    created_at = models.DateTimeField()
    data = models.JSONField()
    context = models.JSONField()
    attempts = models.IntegerField(default=0)
    max_attempts = models.IntegerField()
    dead = models.BooleanField(default=False)
    last_error = models.TextField(default="", blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=255, null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "outbox entries"
        indexes = [
            # Claims walk these in id order (see ``_outbox.table``); each claim query repeats an
            # index's predicate exactly, so its plan does not hang on the table's statistics,
            # which for a queue are nearly always stale.
            models.Index(
                fields=["id"],
                condition=Q(dead=False, next_attempt_at__isnull=True, claimed_until__isnull=True),
                name="eventhex_outbox_fresh_idx",
            ),
            models.Index(
                fields=["id"],
                condition=Q(dead=False)
                & (Q(next_attempt_at__isnull=False) | Q(claimed_until__isnull=False)),
                name="eventhex_outbox_retry_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_name} ({self.event_uuid})"


class EncryptionKey(models.Model):
    """A data subject's encryption key; deleting it shreds the subject's encrypted fields."""

    tenant_id = models.CharField(max_length=255, default="", blank=True)
    subject_id = models.CharField(max_length=255)
    key = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant_id", "subject_id"], name="eventhex_key_subject_uniq"
            ),
        ]


class ProjectionCursor(models.Model):
    """The last stream version a projection has processed."""

    name = models.CharField(max_length=255)
    stream_uuid = models.UUIDField()
    category = models.CharField(max_length=255, default="", blank=True)
    version = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["name", "stream_uuid", "category"], name="eventhex_cursor_uniq"
            ),
        ]
