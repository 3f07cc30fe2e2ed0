"""The demo's steps: database, migrate, scenario with a live projection, relay, summary."""

import argparse
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ledger_demo.databases import PostgresUnavailable, sqlite_url, throwaway_postgres

__all__ = ["main"]

STEPS = 5


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="demo", description="Run the eventhex ledger demo end to end."
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--postgres",
        action="store_true",
        help="start a throwaway PostgreSQL server for the run (needs pg_config and initdb)",
    )
    where.add_argument(
        "--database-url",
        default=os.environ.get("EVENTHEX_DEMO_DATABASE_URL"),
        help="use this database (default: $EVENTHEX_DEMO_DATABASE_URL, else a fresh SQLite)",
    )
    parser.add_argument(
        "--reset", action="store_true", help="empty a --database-url database before the run"
    )
    parser.add_argument("--commands", type=int, default=60, help="scenario commands (60)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the scenario (7)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the SQLite file and the relayed messages"
    )
    return parser


def step(number: int, text: str) -> None:
    """Print a numbered progress line."""
    print(f"[{number}/{STEPS}] {text}", flush=True)


@contextmanager
def _database(args: argparse.Namespace, workdir: Path) -> Iterator[tuple[str, str]]:
    if args.postgres:
        step(1, "starting a throwaway PostgreSQL server")
        with throwaway_postgres() as url:
            yield url, f"postgresql (throwaway server, {url})"
    elif args.database_url:
        step(1, "using the database from EVENTHEX_DEMO_DATABASE_URL / --database-url")
        yield (
            args.database_url,
            f"{args.database_url.partition(':')[0]} ({_hide(args.database_url)})",
        )
    else:
        url = sqlite_url(workdir)
        step(1, f"creating a SQLite database at {workdir / 'ledger.sqlite3'}")
        yield url, f"sqlite ({workdir / 'ledger.sqlite3'})"


def _hide(url: str) -> str:
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials.partition(":")[0]
    return f"{scheme}://{user}@{host}"


def main(argv: list[str]) -> int:
    """Run the demo; returns the exit status."""
    args = _parser().parse_args(argv)
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="eventhex-demo-"))
    try:
        with _database(args, workdir) as (url, label):
            return _run(args, url, label, workdir, started)
    except PostgresUnavailable as error:
        print(f"error: {error}")
        return 2
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _run(args: argparse.Namespace, url: str, label: str, workdir: Path, started: float) -> int:
    os.environ["DJANGO_SETTINGS_MODULE"] = "ledger_project.settings"
    os.environ["EVENTHEX_DEMO_DATABASE_URL"] = url
    import django

    django.setup()
    from ledger_demo import report
    from ledger_demo.steps import drain, empty, holds_data, migrate, run_scenario_with_projection

    applied = migrate()
    step(2, f"migrated: {applied} migrations applied")
    if holds_data():
        if not args.reset:
            print(
                "error: this database already holds events; pass --reset to empty it first "
                "(every table of the project is flushed)"
            )
            return 2
        empty()
        print("      emptied the database (--reset)")
    step(3, f"running the scenario: 5 accounts, {args.commands} commands, seed {args.seed}")
    outcome = run_scenario_with_projection(args.commands, args.seed, stop=threading.Event())
    step(4, "draining the outbox: eventhex-relay drain --source django --publisher stdout:")
    relayed = drain(url, workdir if args.keep else None)
    step(5, "checking and summarising")
    return report.summarise(label, outcome, relayed, time.perf_counter() - started)
