"""Fixtures for the Django adapter tests: a configured backend per database."""

from collections.abc import Callable

import pytest

from eventhex_django_adapter import DjangoBackend, DjangoConfig

on_sqlite = pytest.mark.django_db(databases=["default"])
"""Mark a test or class to run on the SQLite database (inside a rolled-back transaction)."""

on_postgres = [pytest.mark.django_db(databases=["postgres"]), pytest.mark.postgres]
"""Marks for a test or class on the session's PostgreSQL (inside a rolled-back transaction)."""


def backend_on(alias: str, **config: object) -> DjangoBackend:
    """A configured backend that stores in ``alias``."""
    return DjangoBackend().configure(DjangoConfig(database=alias, **config))  # type: ignore[arg-type]


@pytest.fixture(params=["default", pytest.param("postgres", marks=pytest.mark.postgres)])
def alias(request: pytest.FixtureRequest) -> str:
    """Each database alias in turn; use with ``@pytest.mark.django_db(databases="__all__")``."""
    return str(request.param)


@pytest.fixture
def make_backend(alias: str) -> Callable[..., DjangoBackend]:
    """Builds configured backends on the current ``alias``."""
    return lambda **config: backend_on(alias, **config)
