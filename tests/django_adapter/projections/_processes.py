"""Runner processes for the tests: ``manage.py eventhex_projections run`` on the test database."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import connections
from eventhex_devtools.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[3]


def runner_env(server: PostgresServer, dbname: str, **extra: str) -> dict[str, str]:
    """The environment of a process using ``tests.projection_app.runner_settings``."""
    database = {"NAME": dbname, "HOST": server.host, "PORT": str(server.port), "USER": server.user}
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHEX_TEST_")}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.projection_app.runner_settings",
        EVENTHEX_TEST_RUNNER_DATABASE=json.dumps(database),
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
        **extra,
    )
    return env


def start_runner(
    server: PostgresServer, dbname: str, *args: str, log: Path, **extra: str
) -> subprocess.Popen[bytes]:
    """Start ``eventhex_projections run ARGS`` with its log (JSON lines) in ``log``."""
    command = [sys.executable, "-m", "django", "eventhex_projections", "run"]
    command += ["--claim-interval", "0.2", "--log-format", "json", *args]
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=runner_env(server, dbname, **extra), stdout=out, stderr=out
        )


def manage(server: PostgresServer, dbname: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py ARGS`` against the database; returns the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=ROOT,
        env=runner_env(server, dbname),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def in_batch(pid: int) -> bool:
    """Whether runner ``pid`` has a transaction open that waits on Python: a batch."""
    with connections["postgres"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE application_name = %s AND state = 'idle in transaction'",
            [f"eventhex-runner-{pid}"],
        )
        return bool(cursor.fetchone()[0])


def kill_mid_batch(
    runners: list[subprocess.Popen[str]], rows: Callable[[], dict[str, Any]], row: str
) -> tuple[subprocess.Popen[str], dict[str, int], float]:
    """SIGKILL the runner that owns checkpoint row ``row`` while it is inside a batch, and wait
    until every row it owned is taken over (by another owner, at a higher generation).

    Args:
        runners: The runner processes.
        rows: Reads the checkpoint rows, by name (``ProjectionState``s).
        row: The row whose owner is killed.

    Returns:
        The killed runner, the rows it owned with their generation then, and the seconds from
        the kill until all of them were taken over.
    """
    from tests.waiting import wait_for

    owner = rows()[row].owner
    pid = int(owner.split(":")[1])
    (victim,) = [r for r in runners if r.pid == pid]
    orphans = {name: r.generation for name, r in rows().items() if r.owner == owner}
    wait_for(lambda: in_batch(pid), "the runner to be inside a batch")

    victim.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    victim.wait()

    def taken_over() -> bool:
        now = rows()
        return all(
            now[name].owner not in ("", owner) and now[name].generation > generation
            for name, generation in orphans.items()
        )

    wait_for(taken_over, "the dead runner's rows to be taken over")
    return victim, orphans, time.monotonic() - killed_at
