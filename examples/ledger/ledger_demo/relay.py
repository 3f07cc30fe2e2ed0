"""Running ``eventhex-relay drain`` as its own process, the way it is deployed."""

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["RelayRun", "drain_outbox", "relay_command"]

PROJECT_DIR = Path(__file__).resolve().parent.parent


@dataclass
class RelayRun:
    """The relay's exit code, the messages it printed and its log."""

    command: list[str]
    returncode: int
    messages: list[dict[str, Any]] = field(default_factory=list)
    log: str = ""
    unparsed: list[str] = field(default_factory=list)


def relay_command() -> list[str]:
    """``eventhex-relay`` from this interpreter's environment (or ``python -m`` as fallback)."""
    beside = Path(sys.executable).with_name("eventhex-relay")
    found = str(beside) if beside.exists() else shutil.which("eventhex-relay")
    return [found] if found else [sys.executable, "-m", "eventhex_outbox_relay"]


def drain_outbox(database_url: str, timeout: float = 300) -> RelayRun:
    """Drain the outbox to standard output: ``drain --source django --publisher stdout:``.

    The relay process gets ``DJANGO_SETTINGS_MODULE`` and the database URL, so the adapter's
    ``django`` outbox source opens the same database as this process.
    """
    command = [*relay_command(), "drain", "--source", "django", "--publisher", "stdout:"]
    path = os.pathsep.join(p for p in (str(PROJECT_DIR), os.environ.get("PYTHONPATH")) if p)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ledger_project.settings",
        "EVENTHEX_DEMO_DATABASE_URL": database_url,
        "PYTHONPATH": path,
    }
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    run = RelayRun(command=command, returncode=done.returncode, log=done.stderr)
    for line in done.stdout.splitlines():
        if not line.strip():
            continue
        try:
            run.messages.append(json.loads(line))
        except json.JSONDecodeError:
            run.unparsed.append(line)
    return run
