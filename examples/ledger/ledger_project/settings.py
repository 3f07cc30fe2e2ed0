"""Settings of the ledger example project.

The database is a URL in ``EVENTHEX_DEMO_DATABASE_URL``:

- ``sqlite:////absolute/path/ledger.sqlite3`` (or ``sqlite:///relative/path``)
- ``postgresql://user:password@host:port/dbname``

Without it the project uses ``.data/ledger.sqlite3`` beside ``manage.py`` (gitignored).
``demo.py`` sets the variable for itself and for the relay process it starts, so both open the
same database.
"""

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent


def database_from_url(url: str) -> dict[str, Any]:
    """Django's ``DATABASES`` entry for a ``sqlite:`` or ``postgresql:`` URL."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:////abs/path has the path "//abs/path"; sqlite:///rel/path has "/rel/path".
        name = unquote(parts.path)[1:]
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": name or str(BASE_DIR / ".data" / "ledger.sqlite3"),
            # One writer at a time, waiting for the lock instead of failing at once.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30},
        }
    if parts.scheme in ("postgres", "postgresql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "postgres",
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
        }
    raise ValueError(
        f"EVENTHEX_DEMO_DATABASE_URL={url!r}: use sqlite:///PATH or postgresql://USER@HOST:PORT/DB"
    )


DATABASES = {
    "default": database_from_url(
        os.environ.get(
            "EVENTHEX_DEMO_DATABASE_URL", f"sqlite:///{BASE_DIR / '.data' / 'ledger.sqlite3'}"
        )
    )
}

SECRET_KEY = os.environ.get("LEDGER_SECRET_KEY", "ledger-example-not-secret")
DEBUG = os.environ.get("LEDGER_DEBUG", "") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "eventhex_django_adapter",
    "eventhex_django_adapter.projections",
    "ledger",
    # Only while moving from event_sourcery_django (docs/migrating.md); the import tests use it.
    "eventhex_django_adapter.contrib.upstream_import",
]

# How the ledger's DjangoBackend uses the database: the keyword arguments of DjangoConfig.
EVENTHEX = {
    "outbox_attempts": 5,
    "gap_retry_interval": 0.2,
}

# The read models that `manage.py eventhex_projections run` keeps current, and their backend.
EVENTHEX_PROJECTIONS = ["ledger.projection.Balances"]
EVENTHEX_PROJECTIONS_BACKEND = "ledger.backend.backend"

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "ledger_project.urls"
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
STATIC_URL = "static/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"eventhex": {"handlers": ["console"], "level": "WARNING"}},
}
