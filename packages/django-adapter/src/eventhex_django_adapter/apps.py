"""Django app configuration for eventhex (app label ``eventhex``)."""

from django.apps import AppConfig

__all__ = ["EventhexConfig"]


class EventhexConfig(AppConfig):
    """The ``eventhex`` app: event store tables, admin, system checks and commands."""

    name = "eventhex_django_adapter"
    label = "eventhex"
    verbose_name = "eventhex event store"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Register the system checks; nothing else happens at start-up."""
        from eventhex_django_adapter import checks

        checks.register()
