"""Django set-up for one benchmark worker process.

eventhex and python-event-sourcery 0.6.1 each need their own app in ``INSTALLED_APPS``
(``eventhex_django_adapter`` and ``event_sourcery_django``), so every worker process configures
Django for exactly one contender, migrates its fresh database, and builds that contender's
backend. The two backends expose the same event_sourcery ``Backend`` API, so the scenarios run
unchanged against either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from benchmarks._bench import MODES, Mode

APPS = {"eventhex": "eventhex_django_adapter", "upstream": "event_sourcery_django"}

Unit = Callable[[], AbstractContextManager[Any]]
"""A unit of work: ``transaction.atomic`` or nothing."""


def database_settings(db: str, target: str, mode: Mode) -> dict[str, Any]:
    """Django's ``DATABASES["default"]`` for ``db`` (``postgres`` or ``sqlite``).

    Args:
        db: The vendor.
        target: A libpq URI for PostgreSQL, a file path for SQLite.
        mode: The run's conditions: its PostgreSQL ``OPTIONS`` (none in the headline mode:
            Django's defaults, as a user has them).
    """
    if db == "sqlite":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": target,
            # No fsync, as the CPU-only PostgreSQL: the disk is not what this mode measures.
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
        "OPTIONS": dict(mode.django_options),
    }


def setup(impl: str, db: str, target: str, mode: str, migrate: bool = True) -> None:
    """Configure Django for ``impl`` on a fresh database and migrate it.

    Args:
        impl: ``eventhex`` or ``upstream``.
        db: ``postgres`` or ``sqlite``.
        target: See :func:`database_settings`.
        mode: A name in :data:`benchmarks._bench.MODES`.
        migrate: Run ``migrate`` (skip when another process already did).
    """
    import django
    from django.conf import settings
    from django.core.management import call_command

    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", APPS[impl]],
        DATABASES={"default": database_settings(db, target, MODES[mode])},
        USE_TZ=True,
        TIME_ZONE="UTC",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        SECRET_KEY="eventhex-benchmarks",
        LOGGING_CONFIG=None,
    )
    django.setup()
    if migrate:
        call_command("migrate", verbosity=0, interactive=False)


def unit(mode: str) -> Unit:
    """The unit of work of ``mode``: ``transaction.atomic`` or nothing."""
    from django.db import transaction

    return transaction.atomic if MODES[mode].atomic else nullcontext


@contextmanager
def unmeasured_commits() -> Iterator[None]:
    """Commits that do not wait for the disk (PostgreSQL), for seeding data that is not what a
    scenario measures; the session's setting is restored afterwards."""
    from django.db import connection

    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def watch_backend() -> None:
    """Count the CPU time of Django's PostgreSQL connection's server process in the measured
    parts (see :mod:`benchmarks._measured`)."""
    from django.db import connection

    from benchmarks._measured import watch_backend as watch

    if connection.vendor == "postgresql":
        connection.ensure_connection()
        watch(connection.connection.info.backend_pid)


def backend(impl: str, outbox: bool = False, notifications: bool = True) -> Any:
    """A configured backend of ``impl`` (with the outbox when asked).

    Args:
        impl: ``eventhex`` or ``upstream``.
        outbox: Write appended events to the outbox.
        notifications: eventhex's ``DjangoConfig.notifications``.
    """
    if impl == "upstream":
        from event_sourcery_django import DjangoBackend, DjangoConfig

        upstream = DjangoBackend().configure(DjangoConfig())
        return upstream.with_outbox() if outbox else upstream
    from eventhex_django_adapter import DjangoBackend as EventhexBackend
    from eventhex_django_adapter import DjangoConfig as EventhexConfig

    ours = EventhexBackend().configure(EventhexConfig(notifications=notifications))
    return ours.with_outbox() if outbox else ours
