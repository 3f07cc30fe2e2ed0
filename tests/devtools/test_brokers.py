"""Where the tests find their broker servers, and what they say when one is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from eventhex_devtools import brokers
from eventhex_devtools.brokers import NotInstalled, _packaged_or_on_path


@pytest.mark.parametrize("lookup", [brokers.redis_server, brokers.nats_server, brokers.tansu])
def test_the_test_environment_brings_its_own_server(lookup: Callable[[], Path]) -> None:
    """The pinned packages of hatch.toml's hatch-test environment provide Redis, NATS and a Kafka
    broker (Tansu), so the suite uses them, and not whatever the machine has on PATH."""
    binary = lookup().resolve()
    assert binary.is_relative_to(Path(sys.prefix).resolve()), f"{binary} is not {sys.prefix}'s"
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip()


def test_a_binary_on_path_serves_when_no_package_provides_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = tmp_path / "eventhex-probe-server"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")

    found = _packaged_or_on_path("eventhex-probe-server", tmp_path / "absent", package="x-bin")

    assert found == program


def test_a_missing_server_names_the_package_and_the_command(tmp_path: Path) -> None:
    with pytest.raises(NotInstalled) as raised:
        _packaged_or_on_path("eventhex-no-such-server", tmp_path / "absent", package="x-bin")

    message = str(raised.value)
    assert message.startswith("eventhex-no-such-server not found")
    assert "x-bin" in message
    assert "`hatch test`" in message
