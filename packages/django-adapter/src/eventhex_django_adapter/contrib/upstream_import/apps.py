"""The import app's configuration (app label ``eventhex_upstream_import``)."""

from django.apps import AppConfig

__all__ = ["UpstreamImportConfig"]


class UpstreamImportConfig(AppConfig):
    """Reads event_sourcery_django's tables and writes eventhex's."""

    name = "eventhex_django_adapter.contrib.upstream_import"
    label = "eventhex_upstream_import"
    verbose_name = "eventhex: import from event_sourcery_django"
    default_auto_field = "django.db.models.BigAutoField"
