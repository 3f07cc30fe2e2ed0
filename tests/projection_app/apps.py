"""The test read models' app."""

from django.apps import AppConfig


class ProjectionAppConfig(AppConfig):
    """Read models written by the test projections."""

    name = "tests.projection_app"
    label = "projection_app"
    default_auto_field = "django.db.models.BigAutoField"
