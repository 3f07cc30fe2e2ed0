"""Admin benchmark: the server time of the admin's pages on a store of 1,000,000 events.

``python -m benchmarks admin`` (a group of the registry, headline mode, not in ``all``) or
``python -m benchmarks.admin [--events N] [--reps R] [--dsn URI]`` (alone, it starts a durable
PostgreSQL of its own) fills the event store through its real schema with ``INSERT ... SELECT
generate_series`` (the triggers stamp ``tx_id`` as for any append): ``N`` events (1,000,000 by
default) on ``N / 10`` streams in three categories, one outbox entry per stream (a tenth of them
dead), three projections with checkpoints (one of them never run) and 200 parked events; then
``ANALYZE``. Each page is requested through Django's test ``Client`` as a logged-in superuser,
once to warm up and ``R`` times measured (5 by default); the result is the median, in ms.

Prints a table and writes ``benchmarks/out/admin.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks._admin_projections import EveryEvent, Orders, Shipped
from benchmarks._bench import Bench, Row

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out" / "admin.json"
EVENTS = 1_000_000
PER_STREAM = 10
REPS = 5
NAMES = ("OrderPlaced", "ItemAdded", "ItemRemoved", "OrderPaid", "OrderShipped")
CATEGORIES = ("order", "invoice", "shipment")


_CONTEXT = '{"causation_id": null, "correlation_id": null}'


def _fill(events: int) -> dict[str, Any]:
    """Streams, events, outbox, projections and parked events; returns what pages ask for."""
    from django.db import connection, transaction

    streams = max(1, events // PER_STREAM)
    names = "ARRAY[" + ", ".join(f"'{n}'" for n in NAMES) + "]"
    categories = "ARRAY[" + ", ".join(f"'{c}'" for c in CATEGORIES) + "]"
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute(
            "INSERT INTO eventhex_stream (uuid, name, category, tenant_id, version) "
            f"SELECT gen_random_uuid(), 'order-' || g, ({categories})[g %% 3 + 1], '', "
            f"{PER_STREAM} FROM generate_series(1, %s) g",
            [streams],
        )
        # One transaction per version, so that tx_id moves as in a live store.
        for version in range(1, PER_STREAM + 1):
            with transaction.atomic():
                cursor.execute(
                    "INSERT INTO eventhex_event (stream_id, version, uuid, name, data, context, "
                    "created_at, category, tenant_id) "
                    f"SELECT s.id, %s, gen_random_uuid(), ({names})[(s.id + %s) %% 5 + 1], "
                    "jsonb_build_object('n', s.id, 'pad', repeat('p', 64)), %s::jsonb, "
                    "now() - make_interval(secs => %s - s.id / 1000.0), s.category, '' "
                    "FROM eventhex_stream s ORDER BY s.id",
                    [version, version, _CONTEXT, PER_STREAM * streams],
                )
        cursor.execute(
            "INSERT INTO eventhex_outboxentry (event_uuid, event_name, stream_uuid, stream_name, "
            "stream_category, tenant_id, version, position, created_at, data, context, attempts, "
            "max_attempts, dead, last_error, enqueued_at) "
            "SELECT e.uuid, e.name, s.uuid, s.name, s.category, '', e.version, "
            "e.tx_id::numeric * 18446744073709551616 + e.id, e.created_at, e.data, e.context, "
            "CASE WHEN s.id %% 10 = 0 THEN 10 ELSE 0 END, 10, s.id %% 10 = 0, "
            "CASE WHEN s.id %% 10 = 0 THEN 'broker down' ELSE '' END, now() "
            "FROM eventhex_event e JOIN eventhex_stream s ON s.id = e.stream_id "
            "WHERE e.version = %s ORDER BY e.id",
            [PER_STREAM],
        )
        checkpoints = ((EveryEvent, 0.9, None), (Orders, 0.5, "order"), (Shipped, 1.0, None))
        for projection, share, category in checkpoints:
            cursor.execute(
                "SELECT id, tx_id, uuid, created_at FROM eventhex_event "
                "WHERE (%s::text IS NULL OR category = %s) "
                "AND (%s::text IS NULL OR name = %s) AND id <= %s "
                "ORDER BY id DESC LIMIT 1",
                [
                    category,
                    category,
                    "OrderShipped" if projection is Shipped else None,
                    "OrderShipped",
                    int(events * share),
                ],
            )
            event_id, tx_id, uuid, created_at = cursor.fetchone()
            cursor.execute(
                "INSERT INTO eventhex_projection (name, projection, version, shard, shards, "
                "position, last_event_uuid, last_event_at, applied, state, generation, owner, "
                "last_error, updated_at) "
                "VALUES (%s, %s, 1, 0, 1, %s::numeric * 18446744073709551616 + %s, %s, %s, %s, "
                "'running', 1, '', '', now())",
                [projection.name, projection.name, tx_id, event_id, uuid, created_at, event_id],
            )
        cursor.execute(
            "INSERT INTO eventhex_parked_event (projection_id, event_uuid, event_name, "
            "stream_uuid, stream_name, stream_category, tenant_id, version, position, "
            "previous_position, error, attempts, status, parked_at) "
            "SELECT p.id, e.uuid, e.name, s.uuid, s.name, s.category, '', e.version, "
            "e.tx_id::numeric * 18446744073709551616 + e.id, 0, "
            '\'Traceback (most recent call last):\n  File "app.py", line 1, in handle\n'
            "ValueError: <bad> & broken', 3, 'parked', now() "
            "FROM eventhex_event e JOIN eventhex_stream s ON s.id = e.stream_id, "
            "eventhex_projection p WHERE p.name = %s AND e.id %% 5000 = 1 ORDER BY e.id LIMIT 200",
            [EveryEvent.name],
        )
        cursor.execute("RESET synchronous_commit")
        for table in ("stream", "event", "outboxentry", "projection", "parked_event"):
            cursor.execute(f"ANALYZE eventhex_{table}")
        cursor.execute(
            "SELECT e.id, e.uuid, s.name FROM eventhex_event e "
            "JOIN eventhex_stream s ON s.id = e.stream_id WHERE e.id = %s",
            [events // 2],
        )
        event_id, uuid, stream_name = cursor.fetchone()
    return {
        "event_id": event_id,
        "event_uuid": str(uuid),
        "stream_name": stream_name,
        "streams": streams,
    }


def _pages(found: dict[str, Any], last_page: int) -> list[tuple[str, str, dict[str, str]]]:
    from django.urls import reverse

    from eventhex_django_adapter.models import Event, OutboxEntry, Stream
    from eventhex_django_adapter.projections.models import ParkedEvent, ProjectionState

    def changelist(model: type) -> str:
        opts = model._meta  # type: ignore[attr-defined]
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")

    events = changelist(Event)
    return [
        ("events list, page 1", events, {}),
        ("events list, last page", events, {"p": str(last_page)}),
        ("events search by stream name", events, {"q": found["stream_name"]}),
        ("events search by event uuid", events, {"q": found["event_uuid"]}),
        ("events filtered by category", events, {"category__exact": "order"}),
        ("events filtered by event name", events, {"name__exact": "OrderPaid"}),
        ("an event's page", reverse("admin:eventhex_event_change", args=[found["event_id"]]), {}),
        ("streams list", changelist(Stream), {}),
        ("streams search by name", changelist(Stream), {"q": found["stream_name"]}),
        ("outbox list", changelist(OutboxEntry), {}),
        ("projections", changelist(ProjectionState), {}),
        ("parked events", changelist(ParkedEvent), {}),
    ]


def _time(client: Any, url: str, params: dict[str, str], reps: int) -> dict[str, Any]:
    first = client.get(url, params)
    if first.status_code != 200:
        return {"status": first.status_code, "location": first.get("Location", "")}
    took = []
    for _ in range(reps):
        started = time.perf_counter()
        response = client.get(url, params)
        took.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, params, response.status_code)
    listed = first.context.get("cl") if first.context else None  # a row's page has no list
    count = getattr(listed, "result_count", None)
    return {"ms": round(statistics.median(took), 1), "rows": count}


def measure(dsn: str, events: int, reps: int) -> dict[str, Any]:
    """Fill the database at ``dsn`` and time every page; one entry per page."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks._admin_settings"
    os.environ["EVENTHEX_BENCH_ADMIN_DSN"] = dsn
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()  # responses carry their template context
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    found = _fill(events)
    filled_s = time.perf_counter() - started
    client = Client()
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "secret"))
    first = client.get(_pages(found, 1)[0][1])
    last_page = first.context["cl"].paginator.num_pages
    pages = {
        title: _time(client, url, params, reps) for title, url, params in _pages(found, last_page)
    }
    return {"events": events, "streams": found["streams"], "fill_s": round(filled_s, 1)} | {
        "last_page": last_page,
        "pages": pages,
    }


def table(result: dict[str, Any]) -> str:
    """The pages as a Markdown table."""
    lines = ["| page | ms | count shown |", "|---|---:|---:|"]
    for title, page in result["pages"].items():
        if "ms" in page:
            rows = "" if page["rows"] is None else f"{page['rows']:,}"
            lines.append(f"| {title} | {page['ms']:,.1f} | {rows} |")
        else:
            lines.append(f"| {title} | HTTP {page['status']} {page['location']} | |")
    return "\n".join(lines)


def run(bench: Bench) -> list[Row]:
    """The ``admin`` group: :func:`measure` in its own process on a fresh database."""
    with bench.postgres_database("admin") as dsn:
        command = [sys.executable, "-m", "benchmarks.admin", "--dsn", dsn]
        command += ["--events", str(bench.size(EVENTS)), "--reps", str(REPS)]
        subprocess.run(command, cwd=ROOT, check=True)
    result = json.loads(OUT.read_text())
    title = (
        f"Admin at {result['events']:,} events ({result['streams']:,} streams; server time, "
        f"median of {REPS} warm requests; benchmarks/admin.py)"
    )
    rows: list[Row] = [{"kind": "section", "title": title, "text": table(result)}]
    for page, timing in result["pages"].items():
        rows.append(
            {
                "impl": "eventhex",
                "db": "postgres",
                "n": result["events"],
                "rep": 0,
                "scenario": f"admin: {page}",
                "value": timing.get("ms"),
                "unit": "ms",
                "source": "admin.py",
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on ``--dsn``, or on a durable PostgreSQL of its own."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.admin")
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--reps", type=int, default=REPS)
    parser.add_argument("--dsn", help="an empty database to use (default: start a server)")
    args = parser.parse_args(argv)
    if args.dsn:
        result = measure(args.dsn, args.events, args.reps)
    else:
        from eventhex_devtools.postgres import ThrowawayPostgres

        with ThrowawayPostgres(prefix="eventhex-bench-admin-", server_defaults=True) as server:
            name = server.create_database("admin")
            result = measure(server.dsn(name), args.events, args.reps)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"filled {result['events']:,} events in {result['fill_s']} s")
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
