"""Reliability tests: faults, bad input, tenant isolation and model-based comparisons.

At the end of every session that ran any of them, ``pytest_terminal_summary`` prints the
reliability report (faults injected and survived, events lost, bad inputs tried and handled).
Run them alone with ``hatch run pytest tests/reliability``; they also run in ``hatch test``.

Fixtures:
    make_backend: builds a configured backend of the current ``adapter`` (``memory``, the
        in-memory reference; ``sqlite``; ``postgres``, the session server).
"""

from collections.abc import Callable
from typing import Any

import pytest

from eventhex_core_ports import ContainerBackend, InMemoryBackend, InMemoryConfig
from eventhex_django_adapter import DjangoBackend, DjangoConfig

from ._report import ReliabilityReport, report

ADAPTERS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
"""Every adapter the behaviour must be identical on."""

ALIASES = {"sqlite": "default", "postgres": "postgres"}

on_every_database = pytest.mark.django_db(databases=["default", "postgres"])
"""Mark a test that uses ``make_backend`` (its Django adapters run in rolled-back transactions)."""


def build_backend(adapter: str, **config: Any) -> ContainerBackend[Any]:
    """A configured backend of ``adapter`` with ``config`` (fields shared by both configs)."""
    if adapter == "memory":
        return InMemoryBackend().configure(InMemoryConfig(**config))
    return DjangoBackend().configure(DjangoConfig(database=ALIASES[adapter], **config))


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest) -> str:
    """Each adapter in turn."""
    return str(request.param)


@pytest.fixture
def make_backend(adapter: str) -> Callable[..., ContainerBackend[Any]]:
    """Builds configured backends of the current ``adapter``."""
    return lambda **config: build_backend(adapter, **config)


@pytest.fixture
def reliability() -> ReliabilityReport:
    """The session's reliability report, for tests to record what they proved."""
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the reliability report when any reliability test recorded something."""
    if report.empty:
        return
    terminalreporter.section("eventhex reliability report")
    for line in report.lines():
        terminalreporter.write_line(line)
