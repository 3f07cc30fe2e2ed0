"""Django set-up for one benchmark worker process.

eventhex and python-event-sourcery 0.6.1 each need their own app in ``INSTALLED_APPS``
(``eventhex_django_adapter`` and ``event_sourcery_django``), so every worker process configures
Django for exactly one contender, migrates its fresh database, and builds that contender's
backend. The two backends expose the same event_sourcery ``Backend`` API, so the scenarios run
unchanged against either.
"""

from __future__ import annotations

from typing import Any

APPS = {"eventhex": "eventhex_django_adapter", "upstream": "event_sourcery_django"}


def database_settings(db: str, target: str) -> dict[str, Any]:
    """Django's ``DATABASES["default"]`` for ``db`` (``postgres`` or ``sqlite``).

    Args:
        db: The vendor.
        target: A libpq URI for PostgreSQL, a file path for SQLite.
    """
    if db == "sqlite":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": target,
            # No fsync, as the benchmark's PostgreSQL: the disk is shared and is not what we
            # measure.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA synchronous=OFF",
            },
        }
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(target)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": info["dbname"],
        "USER": info.get("user", "postgres"),
        "HOST": info.get("host", "127.0.0.1"),
        "PORT": str(info.get("port", "")),
        # Server-side prepared statements for both contenders (Django leaves them off by default
        # for the sake of transaction-pooling proxies; docs/operations.md recommends them).
        "OPTIONS": {"prepare_threshold": 5},
    }


def setup(impl: str, db: str, target: str, migrate: bool = True) -> None:
    """Configure Django for ``impl`` on a fresh database and migrate it.

    Args:
        impl: ``eventhex`` or ``upstream``.
        db: ``postgres`` or ``sqlite``.
        target: See :func:`database_settings`.
        migrate: Run ``migrate`` (skip when another process already did).
    """
    import django
    from django.conf import settings
    from django.core.management import call_command

    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", APPS[impl]],
        DATABASES={"default": database_settings(db, target)},
        USE_TZ=True,
        TIME_ZONE="UTC",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        SECRET_KEY="eventhex-benchmarks",
        LOGGING_CONFIG=None,
    )
    django.setup()
    if migrate:
        call_command("migrate", verbosity=0, interactive=False)


def backend(impl: str, outbox: bool = False) -> Any:
    """A configured backend of ``impl`` (with the outbox when asked).

    Args:
        impl: ``eventhex`` or ``upstream``.
        outbox: Write appended events to the outbox.
    """
    if impl == "upstream":
        from event_sourcery_django import DjangoBackend, DjangoConfig

        upstream = DjangoBackend().configure(DjangoConfig())
        return upstream.with_outbox() if outbox else upstream
    from eventhex_django_adapter import DjangoBackend as EventhexBackend
    from eventhex_django_adapter import DjangoConfig as EventhexConfig

    ours = EventhexBackend().configure(EventhexConfig())
    return ours.with_outbox() if outbox else ours
