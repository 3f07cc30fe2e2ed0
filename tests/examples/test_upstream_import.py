"""``manage.py import_event_sourcery_django`` (examples/ledger/upstream_import)."""

import json

import psycopg
import pytest
from eventhex_devtools.postgres import PostgresServer

from tests.examples._run import run_example

SCRIPT = "tests/examples/_upstream_store.py"


def _import(database_url: str) -> dict:
    done = run_example([SCRIPT], database_url)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _check(result: dict) -> None:
    assert result["command"].startswith(
        "would copy 1 streams, 3 events, 0 snapshots, 1 pending and 1 dead outbox entries"
    )
    assert "copied 1 streams, 3 events" in result["command"]
    assert result["versions"] == [1, 2, 3]
    assert result["names"] == ["AccountOpened", "MoneyDeposited", "MoneyWithdrawn"]
    assert result["created_at"] == ["2025-01-02T03:04:05.678901"] * 3
    assert result["balance"] == 700 - 250 + 50
    # version 2 still pending, version 3 arrived dead (no tries left), version 4 new.
    assert result["outbox"] == [
        [2, False, "account", 0],
        [3, True, "account", 3],
        [4, False, "account", 0],
    ]


def test_import_on_sqlite(tmp_path) -> None:
    result = _import(f"sqlite:///{tmp_path / 'upstream.sqlite3'}")

    _check(result)
    assert "positions: unchanged" in result["command"]
    assert result["position"] == 4


@pytest.mark.postgres
def test_import_on_postgres(postgresql_server: PostgresServer) -> None:
    with psycopg.connect(**postgresql_server.conninfo(), autocommit=True) as connection:
        connection.execute("DROP DATABASE IF EXISTS ledger_import_test")
        connection.execute("CREATE DATABASE ledger_import_test")

    result = _import(postgresql_server.dsn("ledger_import_test"))

    _check(result)
    assert "is now (" in result["command"]
    assert result["position"] >> 64 > 0
