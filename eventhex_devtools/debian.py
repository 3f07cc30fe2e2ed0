"""Install a missing Debian package from the test session, or say the one command that does.

Used for servers that no Python package provides (RabbitMQ, which needs Erlang). A root process on
Debian runs ``apt-get update`` and ``apt-get install`` itself, under a file lock so that parallel
test sessions (pytest-xdist workers, several checkouts) install once and wait for each other, then
stops any service Debian started on install: the tests start their own instances. Anyone else
gets :class:`NotInstalled` at once, naming the command to run; nothing is skipped.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Host", "NotInstalled", "apt_install_command", "ensure_debian_packages"]

LOCK = Path(tempfile.gettempdir()) / "eventhex-apt.lock"
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_failures: dict[tuple[str, ...], str] = {}


class NotInstalled(RuntimeError):
    """A program the tests need is missing and this process could not install it."""


@dataclass(frozen=True)
class Host:
    """What decides whether this process may install Debian packages."""

    root: bool
    debian: bool

    @classmethod
    def current(cls) -> Host:
        """This machine and process."""
        debian = Path("/etc/debian_version").exists() and shutil.which("apt-get") is not None
        return cls(root=os.geteuid() == 0, debian=debian)


def apt_install_command(packages: Sequence[str]) -> str:
    """The command a user runs to install ``packages`` on Debian."""
    names = " ".join(packages)
    return f"sudo apt-get update && sudo apt-get install -y --no-install-recommends {names}"


def ensure_debian_packages(
    packages: Sequence[str],
    *,
    installed: Callable[[], bool],
    stop: Sequence[Sequence[str]] = (),
    host: Host | None = None,
) -> None:
    """Make ``installed()`` true by installing ``packages`` with apt-get if it is not already.

    Args:
        packages: Debian package names.
        installed: Whether what the caller needs is present; checked again under the lock.
        stop: Commands run after the install to stop what Debian started (failures ignored).
        host: The machine's facts; defaults to :meth:`Host.current`.

    Raises:
        NotInstalled: Missing, and this process is not root on Debian (the message names the
            command to run), or apt-get failed (the message has its output).
    """
    if installed():
        return
    host = host or Host.current()
    names = " ".join(packages)
    if not host.debian:
        raise NotInstalled(
            f"{names} is not installed: install it with this system's package manager (on "
            "Debian, a test session that runs as root installs it itself)"
        )
    if not host.root:
        raise NotInstalled(f"{names} is not installed; run: {apt_install_command(packages)}")
    key = tuple(packages)
    if key in _failures:
        raise NotInstalled(_failures[key])
    with _exclusive(LOCK):
        if installed():  # another session installed it while this one waited
            return
        try:
            _apt_install(packages, stop)
        except NotInstalled as error:
            _failures[key] = str(error)
            raise


def _apt_install(packages: Sequence[str], stop: Sequence[Sequence[str]]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "PATH": _with_system_path()}
    wait = ["-o", "DPkg::Lock::Timeout=600"]  # another apt-get on the machine: wait, not fail
    for command in (
        ["apt-get", "update", "-qq", *wait],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *wait, *packages],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise NotInstalled(
                f"{' '.join(command)} failed ({done.returncode}) while installing what the "
                f"tests need:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
    for stopping in stop:
        subprocess.run(stopping, env=env, capture_output=True, check=False)


def _with_system_path() -> str:
    """dpkg's maintainer scripts need the sbin directories, which a user's PATH may lack."""
    return f"{os.environ.get('PATH', '')}:{_SYSTEM_PATH}".strip(":")


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
