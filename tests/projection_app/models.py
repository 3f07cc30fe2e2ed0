"""Read models of the test projections."""

from django.db import models


class AppliedEvent(models.Model):
    """One row per handler call: duplicates and order are visible (no unique constraint)."""

    projection = models.CharField(max_length=255)
    event_uuid = models.UUIDField()
    position = models.DecimalField(max_digits=40, decimal_places=0)
    item = models.CharField(max_length=255, default="")

    class Meta:
        indexes = [models.Index(fields=["projection", "id"], name="applied_projection_idx")]


class ItemCount(models.Model):
    """A simple read model: how many of each item were added."""

    item = models.CharField(max_length=255, unique=True)
    quantity = models.BigIntegerField(default=0)


class Subscriber(models.Model):
    """A read model with a unique e-mail, filled from an encrypted field (the shredding tests)."""

    email = models.CharField(max_length=255, unique=True)
