"""Read-only views of event_sourcery_django's tables (``event_sourcery_django_*``).

Column names and types as that package's migration 0001 creates them. ``managed = False``:
these models only read.
"""

from django.db import models

__all__ = ["UpstreamEvent", "UpstreamOutboxEntry", "UpstreamSnapshot", "UpstreamStream"]


class UpstreamStream(models.Model):
    """A row of ``event_sourcery_django_stream``."""

    id = models.BigAutoField(primary_key=True)
    uuid = models.UUIDField()
    name = models.CharField(max_length=255, null=True)
    category = models.CharField(max_length=255, default="")
    tenant_id = models.CharField(max_length=255)
    version = models.BigIntegerField(null=True)

    class Meta:
        managed = False
        db_table = "event_sourcery_django_stream"


class UpstreamEvent(models.Model):
    """A row of ``event_sourcery_django_event``."""

    id = models.BigAutoField(primary_key=True)
    stream = models.ForeignKey(UpstreamStream, on_delete=models.DO_NOTHING)
    version = models.IntegerField(null=True)
    uuid = models.UUIDField()
    name = models.CharField(max_length=200)
    data = models.JSONField()
    event_context = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "event_sourcery_django_event"


class UpstreamSnapshot(models.Model):
    """A row of ``event_sourcery_django_snapshot``."""

    uuid = models.UUIDField(primary_key=True)
    stream = models.ForeignKey(UpstreamStream, on_delete=models.DO_NOTHING)
    version = models.IntegerField()
    name = models.CharField(max_length=50)
    data = models.JSONField()
    event_context = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "event_sourcery_django_snapshot"


class UpstreamOutboxEntry(models.Model):
    """A row of ``event_sourcery_django_outboxentry``: the event as JSON, and tries left."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField()
    data = models.JSONField()
    stream_name = models.CharField(max_length=255, null=True)
    position = models.BigIntegerField()
    tries_left = models.IntegerField()

    class Meta:
        managed = False
        db_table = "event_sourcery_django_outboxentry"
