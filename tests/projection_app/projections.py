"""Projections the tests register in ``EVENTHEX_PROJECTIONS``."""

import time
from typing import Annotated, ClassVar

from django.conf import settings
from django.db.models import F, QuerySet
from event_sourcery.encryption import DataSubject, Encrypted
from event_sourcery.event import Event, Recorded

from eventhex_core_ports.testing.events import ContractItemAdded, ContractItemRemoved
from eventhex_django_adapter.projections import Projection, handles
from tests.projection_app.models import AppliedEvent, ItemCount, Subscriber


def _rows(model: type[AppliedEvent] | type[ItemCount] | type[Subscriber]) -> QuerySet:  # type: ignore[type-arg]
    """The model's rows in the database the tests point the projections at."""
    return model.objects.using(getattr(settings, "EVENTHEX_TEST_PROJECTION_DATABASE", "default"))


class _Recording(Projection):
    """Records every handled event; ``fail_on`` items raise (to test retries and parking)."""

    fail_on: ClassVar[set[str]] = set()
    calls: ClassVar[list[str]] = []
    fail_reads: ClassVar[str] = ""
    """When set, subscribing raises RuntimeError with it (a worker that stops on an error)."""

    @classmethod
    def selected_types(cls) -> tuple[type[Event], ...] | None:
        if cls.fail_reads:
            raise RuntimeError(cls.fail_reads)
        return super().selected_types()

    def handle(self, record: Recorded) -> None:
        item = str(getattr(record.wrapped_event.event, "item", ""))
        type(self).calls.append(item)
        delay = getattr(settings, "EVENTHEX_TEST_HANDLE_DELAY", 0)
        if delay:
            time.sleep(delay)
        if item in self.fail_on:
            raise RuntimeError(f"cannot project item {item}")
        _rows(AppliedEvent).create(
            projection=self.label(),
            event_uuid=record.wrapped_event.uuid,
            position=record.position,
            item=item,
        )

    def label(self) -> str:
        """Where its rows go: the name, with ``@vV`` after version 1."""
        return self.name if self.version == 1 else f"{self.name}@v{self.version}"

    def reset(self) -> None:
        _rows(AppliedEvent).filter(projection=self.label()).delete()


class AllEvents(_Recording):
    """Every event in the store."""

    name = "test.all"
    batch_size = 50


class ShardedEvents(_Recording):
    """Every event, split into eight shards."""

    name = "test.sharded"
    shards = 8
    batch_size = 50


class VersionOne(_Recording):
    """Version 1 of a blue/green pair; ``retire()`` keeps what it held, then deletes it."""

    name = "test.versioned"
    batch_size = 50
    retired: ClassVar[list[list[str]]] = []

    def retire(self) -> None:
        rows = _rows(AppliedEvent).filter(projection=self.label()).order_by("id")
        type(self).retired.append([str(u) for u in rows.values_list("event_uuid", flat=True)])
        rows.delete()


class VersionTwo(_Recording):
    """Version 2 of the pair, split into two shards."""

    name = "test.versioned"
    version = 2
    shards = 2
    batch_size = 50


class CartEvents(_Recording):
    """The events of the ``cart`` category."""

    name = "test.cart"
    category = "cart"
    batch_size = 20


class Removals(_Recording):
    """Only ``ContractItemRemoved``."""

    name = "test.removals"
    event_types = (ContractItemRemoved,)


class ItemCounts(Projection):
    """Per-item quantities, from per-type handler methods."""

    name = "test.item_counts"
    batch_size = 200

    @handles(ContractItemAdded)
    def added(self, event: ContractItemAdded, record: Recorded) -> None:
        rows = _rows(ItemCount)
        if not rows.filter(item=event.item).update(quantity=F("quantity") + event.quantity):
            rows.create(item=event.item, quantity=event.quantity)

    @handles(ContractItemRemoved)
    def removed(self, event: ContractItemRemoved, record: Recorded) -> None:
        _rows(ItemCount).filter(item=event.item).update(quantity=F("quantity") - 1)

    def reset(self) -> None:
        _rows(ItemCount).all().delete()


class NoReset(Projection):
    """Declares no ``reset()``: it cannot be rebuilt."""

    name = "test.nothing_to_reset"


class SubscriberJoined(Event):
    """Personal data: the e-mail is encrypted with the subject's key (crypto-shredding)."""

    __event_name__ = "eventhex.tests.SubscriberJoined"

    subject: Annotated[str, DataSubject]
    email: Annotated[str, Encrypted(mask_value="[shredded]")]


class Subscribers(Projection):
    """E-mails into a unique column: a second subscriber with one e-mail fails the handler with
    an ``IntegrityError`` whose DETAIL quotes the (decrypted) e-mail."""

    name = "test.subscribers"
    attempts = 1

    @handles(SubscriberJoined)
    def joined(self, event: SubscriberJoined, record: Recorded) -> None:
        _rows(Subscriber).create(email=event.email)

    def reset(self) -> None:
        _rows(Subscriber).all().delete()
