"""The import app's configuration."""

from django.apps import AppConfig


class UpstreamImportConfig(AppConfig):
    """Reads event_sourcery_django's tables and writes eventhex's."""

    name = "upstream_import"
    label = "upstream_import"
    verbose_name = "event_sourcery_django import"
    default_auto_field = "django.db.models.BigAutoField"
