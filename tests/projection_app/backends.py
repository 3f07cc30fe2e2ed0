"""``EVENTHEX_PROJECTIONS_BACKEND`` of the tests: the database the test points projections at."""

from django.conf import settings

from eventhex_django_adapter import DjangoBackend, DjangoConfig


def projections_backend() -> DjangoBackend:
    """A backend on ``settings.EVENTHEX_TEST_PROJECTION_DATABASE`` (``default`` when unset)."""
    alias = getattr(settings, "EVENTHEX_TEST_PROJECTION_DATABASE", "default")
    return DjangoBackend().configure(DjangoConfig(database=alias, gap_retry_interval=0.2))
