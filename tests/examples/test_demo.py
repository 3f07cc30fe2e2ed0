"""``hatch run demo``: the ledger example end to end, on SQLite and on PostgreSQL."""

import re

import psycopg
import pytest
from eventhex_devtools.postgres import PostgresServer

from tests.examples._run import run_example, summary_value

DEMO = "examples/ledger/demo.py"


def _check_summary(output: str) -> None:
    assert summary_value(output, "result").startswith("OK"), output
    events = int(summary_value(output, "events appended").split()[0])
    relayed = int(summary_value(output, "messages relayed").split()[0])
    # 5 accounts opened with a first deposit, and two racing deposits at the end.
    assert events >= 12
    assert relayed == events
    assert "outbox left: 0" in summary_value(output, "messages relayed")
    accounts = re.findall(r"^  (\w+) .* balance +([\d,.]+) ", output, flags=re.MULTILINE)
    assert [name for name, _ in accounts] == ["alice", "bob", "carol", "dave", "erin"]
    total = sum(float(balance.replace(",", "")) for _, balance in accounts)
    assert summary_value(output, "read model").endswith(f"total balance {total:,.2f}")
    assert "1 concurrent write retried" in summary_value(output, "commands")
    _check_progress(output)
    checkpoint = summary_value(output, "checkpoint")
    # Positions as people read them: event ids on SQLite, transaction:event id on PostgreSQL.
    found = re.search(r"position ([\d:]+) \(store position ([\d:]+)\)", checkpoint)
    position, store = found.groups()
    assert position == store != "0"
    on_postgres = summary_value(output, "database").startswith("postgresql")
    assert position.count(":") == (1 if on_postgres else 0)


def _check_progress(output: str) -> None:
    """Each progress line shows the projection's real state: applied plus lag is every event."""
    lines = re.findall(
        r"events +(\d+) .* projected +(\d+)  lag +(\d+)$", output, flags=re.MULTILINE
    )
    assert lines, output
    for events, projected, lag in lines:
        assert int(projected) + int(lag) == int(events), output
    following = re.findall(r"applied +(\d+)  lag +(\d+)$", output, flags=re.MULTILINE)
    applied = [int(projected) for _, projected, _ in lines] + [int(a) for a, _ in following]
    assert applied == sorted(applied), output


def test_demo_on_sqlite_prints_a_summary_and_exits_0() -> None:
    done = run_example([DEMO, "--commands", "30"])

    assert done.returncode == 0, done.stdout + done.stderr
    assert "[5/5]" in done.stdout
    assert summary_value(done.stdout, "database").startswith("sqlite")
    _check_summary(done.stdout)


def test_the_same_seed_gives_the_same_ledger() -> None:
    first = run_example([DEMO, "--commands", "20", "--seed", "3"])
    second = run_example([DEMO, "--commands", "20", "--seed", "3"])

    assert first.returncode == second.returncode == 0, first.stdout + second.stdout
    assert summary_value(first.stdout, "read model") == summary_value(second.stdout, "read model")
    assert summary_value(first.stdout, "events appended") == summary_value(
        second.stdout, "events appended"
    )


@pytest.mark.postgres
def test_demo_on_postgres_prints_the_same_kind_of_summary(
    postgresql_server: PostgresServer,
) -> None:
    with psycopg.connect(**postgresql_server.conninfo(), autocommit=True) as connection:
        connection.execute("DROP DATABASE IF EXISTS ledger_demo_test")
        connection.execute("CREATE DATABASE ledger_demo_test")

    done = run_example([DEMO, "--commands", "30"], postgresql_server.dsn("ledger_demo_test"))

    assert done.returncode == 0, done.stdout + done.stderr
    assert summary_value(done.stdout, "database").startswith("postgresql")
    _check_summary(done.stdout)
    # A second run on the same database refuses to mix ledgers, unless told to reset.
    again = run_example([DEMO, "--commands", "5"], postgresql_server.dsn("ledger_demo_test"))
    assert again.returncode == 2
    assert "--reset" in again.stdout
    reset = run_example(
        [DEMO, "--commands", "5", "--reset"], postgresql_server.dsn("ledger_demo_test")
    )
    assert reset.returncode == 0, reset.stdout + reset.stderr
    _check_summary(reset.stdout)
