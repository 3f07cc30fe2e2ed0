"""Django settings of the admin benchmark: the admin on the database in
``EVENTHEX_BENCH_ADMIN_DSN``, with the benchmark's projections registered."""

import os

from benchmarks._bench import MODES
from benchmarks._django import database_settings

SECRET_KEY = "eventhex-benchmark-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "eventhex_django_adapter",
    "eventhex_django_adapter.projections",
]
DATABASES = {
    "default": database_settings(
        "postgres", os.environ["EVENTHEX_BENCH_ADMIN_DSN"], MODES["headline"]
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "benchmarks._admin_urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EVENTHEX_PROJECTIONS = [
    "benchmarks._admin_projections.EveryEvent",
    "benchmarks._admin_projections.Orders",
    "benchmarks._admin_projections.Shipped",
    "benchmarks._admin_projections.NeverRun",
]
