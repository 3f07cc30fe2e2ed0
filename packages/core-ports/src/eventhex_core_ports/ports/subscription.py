"""Subscription port used by event_sourcery's subscription builder.

Contract: a subscription started from position ``p`` yields, batch by batch, every event
committed with a position greater than ``p`` exactly once and in commit order; a batch is
returned as soon as it is full, or with what is there once ``timelimit`` has passed.
"""

from event_sourcery.interfaces import SubscriptionStrategy

__all__ = ["SubscriptionStrategy"]
