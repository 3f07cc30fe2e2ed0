"""Tables, JSON lines and ``RESULTS.md`` from benchmark measurements."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"

TITLES = {
    "append_single": "append 1 event to a new stream",
    "append_batch10": "append 10 events to a new stream",
    "append_versioned": "versioned appends to one stream",
    "load_1000": "load a 1,000-event stream",
    "catchup": "catch-up, build_batch(500)",
    "outbox_drain": "outbox drain, Outbox.run",
    "relay_noop": "outbox drain, eventhex relay (no-op publisher) vs upstream Outbox.run",
    "relay_redis": "outbox drain, eventhex relay (Redis Streams) vs upstream Outbox.run",
    "relay_kafka": "outbox drain, eventhex relay (Kafka, acks=all) vs upstream Outbox.run",
    "relay_kafka_cloudevents": (
        "outbox drain, eventhex relay (Kafka, CloudEvents) vs upstream Outbox.run"
    ),
    "relay_two_noop": "outbox drain, two eventhex relays (no-op) vs upstream Outbox.run",
    "latency_iter": "live latency, build_iter (p50)",
    "latency_batch": "live latency, build_batch(10) (p50)",
    "floor_executemany": "floor: executemany in one transaction",
    "floor_copy": "floor: COPY",
}
TARGETS = {
    "append_single": "≥ 4x upstream, ≥ 0.6x floor",
    "append_batch10": "≥ 8x",
    "load_1000": "≥ 6x",
    "catchup": "≥ 10x",
    "outbox_drain": "≥ 8x",
    "relay_noop": "≥ 8x (relay ≥ 10,000/s)",
    "relay_redis": "relay ≥ 5,000/s",
    "relay_kafka": "relay ≥ 5,000/s",
}


def lower_is_better(unit: str) -> bool:
    """Whether smaller values of ``unit`` are better (milliseconds)."""
    return unit.startswith("ms")


def medians(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Median ``value`` per (db, scenario, impl) with the repetitions' values."""
    grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if "value" in row and row.get("kind") in (None, ""):
            grouped.setdefault((row["db"], row["scenario"], row["impl"]), []).append(row)
    return {
        key: {
            "value": statistics.median(r["value"] for r in group),
            "unit": group[0]["unit"],
            "values": [r["value"] for r in group],
        }
        for key, group in grouped.items()
    }


def _ratio(ours: dict[str, Any] | None, other: dict[str, Any] | None) -> float | None:
    if not ours or not other or not ours["value"] or not other["value"]:
        return None
    if lower_is_better(ours["unit"]):
        return float(other["value"]) / float(ours["value"])
    return float(ours["value"]) / float(other["value"])


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if value != value:  # NaN
        return "n/a"
    text = f"{value:,.0f}" if value >= 100 else f"{value:,.1f}" if value >= 10 else f"{value:.2f}"
    return f"{text} {unit}".strip()


def table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table per database: eventhex, upstream, floor and the ratios.

    Ratios are speed-ups (for milliseconds, the inverse), so > 1 always means eventhex is
    faster.
    """
    data = medians(rows)
    out = []
    for db in ("postgres", "sqlite"):
        scenarios = [s for s in TITLES if any(k[0] == db and k[1] == s for k in data)]
        if not scenarios:
            continue
        out.append(f"\n**{db}** (median of repetitions; ratios > 1 mean eventhex is faster)\n")
        out.append(
            "| scenario | unit | eventhex | upstream 0.6.1 | floor | eventhex/upstream "
            "| eventhex/floor | target |"
        )
        out.append("|---|---|---:|---:|---:|---:|---:|---|")
        for scenario in scenarios:
            ours = data.get((db, scenario, "eventhex"))
            # The relay has no upstream counterpart: compare it with upstream's Outbox.run.
            compared = "outbox_drain" if scenario.startswith("relay_") else scenario
            theirs = data.get((db, compared, "upstream"))
            floor = data.get((db, compared, "floor"))
            unit = (ours or theirs or floor or {}).get("unit", "")
            r_up, r_floor = _ratio(ours, theirs), _ratio(ours, floor)
            out.append(
                f"| {TITLES[scenario]} | {unit} | {_fmt(ours and ours['value'])} "
                f"| {_fmt(theirs and theirs['value'])} | {_fmt(floor and floor['value'])} "
                f"| {_fmt(r_up, 'x') if r_up else '-'} | {_fmt(r_floor, 'x') if r_floor else '-'} "
                f"| {TARGETS.get(scenario, '') if db == 'postgres' else ''} |"
            )
    return "\n".join(out)


def machine_notes(pg_version: str | None) -> dict[str, Any]:
    """CPU count, Python, PostgreSQL, Django and event_sourcery versions, and the date."""
    from importlib.metadata import version

    import django

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
        "python": sys.version.split()[0],
        "postgresql": pg_version,
        "django": django.get_version(),
        "python-event-sourcery": version("python-event-sourcery"),
        "psycopg": version("psycopg"),
    }


def write_group(group: str, rows: list[dict[str, Any]], notes: dict[str, Any]) -> Path:
    """Write ``out/<group>.jsonl``: one line per measurement, then the machine notes."""
    OUT.mkdir(exist_ok=True)
    path = OUT / f"{group}.jsonl"
    with path.open("w") as handle:
        for row in rows:
            handle.write(json.dumps(row, default=str) + "\n")
        handle.write(json.dumps({"machine": notes}) + "\n")
    return path


def read_groups() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """All measurements and machine notes found in ``out/*.jsonl``."""
    rows, notes = [], []
    for path in sorted(OUT.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            item = json.loads(line)
            (
                notes.append(item["machine"] | {"group": path.stem})
                if "machine" in item
                else rows.append(item)
            )
    return rows, notes


def sections(rows: list[dict[str, Any]]) -> list[str]:
    """Extra Markdown sections: latency percentiles, memory, profiles, failures."""
    out = []
    latency = [r for r in rows if r.get("scenario", "").startswith("latency") and "value" in r]
    if latency:
        lines = [
            "## Live latency detail",
            "",
            "| db | scenario | impl | received/sent | p50 ms | p95 ms | p99 ms |",
            "|---|---|---|---:|---:|---:|---:|",
        ]
        for r in latency:
            lines.append(
                f"| {r['db']} | {r['scenario']} | {r['impl']} | {r.get('received')}/"
                f"{r.get('sent')} | {_fmt(r['value'])} | {_fmt(r.get('p95'))} "
                f"| {_fmt(r.get('p99'))} |"
            )
        out.append("\n".join(lines))
    memory = [r for r in rows if r.get("kind") == "memory"]
    if memory:
        lines = [
            "## Catch-up memory (eventhex, build_batch(1000))",
            "",
            "| db | events | peak RSS MiB | RSS growth during catch-up MiB "
            "| tracemalloc peak MiB | events/s |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for r in memory:
            lines.append(
                f"| {r['db']} | {r['events']:,} | {r['peak_rss_mib']:.1f} "
                f"| {r['rss_growth_mib']:.1f} | {r['tracemalloc_peak_mib']:.1f} "
                f"| {_fmt(r['events_per_s'])} |"
            )
        out.append("\n".join(lines))
    for r in rows:
        if r.get("kind") == "section":
            out.append(f"## {r['title']}\n\n```\n{r['text'].rstrip()}\n```")
    profiles = [r for r in rows if r.get("kind") == "profile"]
    if profiles:
        lines = ["## Profiles (cProfile, eventhex on PostgreSQL, top functions by own time)"]
        for r in profiles:
            lines += ["", f"### {r['title']}", "", "```", r["text"].rstrip(), "```"]
        out.append("\n".join(lines))
    failed = [r for r in rows if "error" in r]
    if failed:
        lines = ["## Failed measurements", ""]
        for r in failed:
            last = r["error"].strip().splitlines()[-1:] or [""]
            lines.append(f"- {r['db']} {r['scenario']} {r['impl']}: `{last[0][:200]}`")
        out.append("\n".join(lines))
    return out
