"""Running the ledger example's scripts in their own process, with their own settings."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LEDGER = ROOT / "examples" / "ledger"


def run_example(
    args: list[str], database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGS`` from the repository root, as ``hatch run`` would."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.pop("EVENTHEX_DEMO_DATABASE_URL", None)
    if database_url is not None:
        env["EVENTHEX_DEMO_DATABASE_URL"] = database_url
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(LEDGER), env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def summary_value(output: str, key: str) -> str:
    """The text after ``key:`` on the summary line that starts with it."""
    for line in output.splitlines():
        if line.startswith(f"{key}:"):
            return line.partition(":")[2].strip()
    raise AssertionError(f"no {key!r} line in the output:\n{output}")
