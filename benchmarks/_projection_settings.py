"""Django settings of the projections benchmark (its own process and its runner processes).

The database is the libpq URI in ``EVENTHEX_BENCH_PROJECTIONS_DSN``; the projections the
comma-separated dotted paths in ``EVENTHEX_BENCH_PROJECTIONS`` (default: the projections
benchmark's ``AmountRows``).
"""

import os

from benchmarks._bench import MODES
from benchmarks._django import database_settings

SECRET_KEY = "eventhex-benchmark-not-secret"
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "eventhex_django_adapter",
    "eventhex_django_adapter.projections",
]
DATABASES = {
    "default": database_settings(
        "postgres", os.environ["EVENTHEX_BENCH_PROJECTIONS_DSN"], MODES["cpu"]
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
EVENTHEX_PROJECTIONS = os.environ.get(
    "EVENTHEX_BENCH_PROJECTIONS", "benchmarks.projections.AmountRows"
).split(",")
