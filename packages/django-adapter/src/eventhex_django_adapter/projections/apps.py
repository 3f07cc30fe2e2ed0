"""Django app configuration for eventhex's projections (app label ``eventhex_projections``)."""

from django.apps import AppConfig

__all__ = ["ProjectionsConfig"]


class ProjectionsConfig(AppConfig):
    """The projection runner's app: checkpoints, parked events, their admin, checks and commands.

    Install it next to the core app, which knows nothing of it::

        INSTALLED_APPS = [..., "eventhex_django_adapter", "eventhex_django_adapter.projections"]
    """

    name = "eventhex_django_adapter.projections"
    label = "eventhex_projections"
    verbose_name = "eventhex projections"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Register the projections' system checks."""
        from eventhex_django_adapter.projections import checks

        checks.register()
