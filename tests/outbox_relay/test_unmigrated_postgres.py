"""The relay and the projection runner on a PostgreSQL database ``migrate`` never ran on: each
stops at once with one line naming ``migrate``, instead of retrying and printing tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from eventhex_devtools.postgres import PostgresServer

from tests.django_adapter.projections._processes import manage

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
MIGRATE_HINT = "run `python manage.py migrate`"


@pytest.fixture
def empty_database(postgresql_server: PostgresServer) -> Iterator[str]:
    name = f"eventhex_unmigrated_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**postgresql_server.conninfo(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(**postgresql_server.conninfo(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.mark.parametrize("command", ["run", "drain", "status"])
def test_the_relay_stops_with_one_line(
    postgresql_server: PostgresServer, empty_database: str, command: str
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.outbox_relay.relay_settings",
        "RELAY_TEST_DB_NAME": empty_database,
        "RELAY_TEST_DB_HOST": postgresql_server.host,
        "RELAY_TEST_DB_PORT": str(postgresql_server.port),
        "RELAY_TEST_DB_USER": postgresql_server.user,
        "EVENTHEX_RELAY_LOG_FORMAT": "text",
    }
    done = subprocess.run(
        [sys.executable, "-m", "eventhex_outbox_relay", command, "--source", "django"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert (
        "the eventhex tables or functions are missing in database 'default' "
        '(relation "eventhex_outboxentry" does not exist): run `python manage.py migrate`'
    ) in done.stderr
    assert done.stderr.count(MIGRATE_HINT) == 1
    assert "Traceback" not in done.stderr


def test_the_projection_runner_stops_with_the_fix(
    postgresql_server: PostgresServer, empty_database: str
) -> None:
    done = manage(postgresql_server, empty_database, "eventhex_projections", "run")
    assert done.returncode == 1
    assert "CommandError: the eventhex tables or functions are missing in database" in done.stderr
    assert MIGRATE_HINT in done.stderr
    assert "Traceback" not in done.stderr


def test_check_tells_to_migrate(postgresql_server: PostgresServer, empty_database: str) -> None:
    done = manage(postgresql_server, empty_database, "check")
    assert done.returncode == 0
    assert "eventhex.W003" in done.stderr
    assert "Run `python manage.py migrate`." in done.stderr
