"""JSON lines on disk, medians and number formatting for the benchmark reports."""

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

Row = dict[str, Any]
Medians = dict[tuple[str, str, str], dict[str, Any]]


def lower_is_better(unit: str) -> bool:
    """Whether smaller values of ``unit`` are better (milliseconds)."""
    return unit.startswith("ms")


def medians(rows: list[Row]) -> Medians:
    """Median ``value`` per (db, scenario, impl) with the repetitions' values and rows."""
    grouped: dict[tuple[str, str, str], list[Row]] = {}
    for row in rows:
        if "value" in row and row.get("kind") in (None, ""):
            grouped.setdefault((row["db"], row["scenario"], row["impl"]), []).append(row)
    return {
        key: {
            "value": statistics.median(r["value"] for r in group),
            "unit": group[0]["unit"],
            "values": [r["value"] for r in group],
            "rows": group,
        }
        for key, group in grouped.items()
    }


def ratio(ours: dict[str, Any] | None, other: dict[str, Any] | None) -> float | None:
    """``ours`` over ``other`` as a speed-up (> 1: ours is faster), or None."""
    if not ours or not other or not ours["value"] or not other["value"]:
        return None
    if lower_is_better(ours["unit"]):
        return float(other["value"]) / float(ours["value"])
    return float(ours["value"]) / float(other["value"])


def paired(ours: dict[str, Any] | None, other: dict[str, Any] | None) -> list[float]:
    """Per-repetition ratios of ``ours`` over ``other`` (as :func:`ratio`), pairing the rows of
    the same repetition: measured next to each other, so they share the machine's mood."""
    if not ours or not other:
        return []
    theirs = {row.get("rep"): row for row in other["rows"]}
    pairs = []
    for row in ours["rows"]:
        match = theirs.get(row.get("rep"))
        if match is not None and row.get("rep") is not None:
            value = ratio({"value": row["value"], "unit": row["unit"]}, match)
            if value is not None:
                pairs.append(value)
    return pairs


def ratio_text(
    ours: dict[str, Any] | None, other: dict[str, Any] | None
) -> tuple[str, float | None]:
    """The ratio to show, and its value: the median of the per-repetition ratios with their
    range when there are at least three, else the ratio of the medians."""
    pairs = paired(ours, other)
    if len(pairs) >= 3:
        middle = statistics.median(pairs)
        return f"{fmt(middle, 'x')} ({min(pairs):.2f} to {max(pairs):.2f})", middle
    value = ratio(ours, other)
    return fmt(value, "x"), value


def fmt(value: float | None, unit: str = "") -> str:
    """A number with a sensible precision, ``-`` for none."""
    if value is None:
        return "-"
    if value != value:  # NaN
        return "n/a"
    text = f"{value:,.0f}" if value >= 100 else f"{value:,.1f}" if value >= 10 else f"{value:.2f}"
    return f"{text} {unit}".strip()


def machine_notes(server: Any) -> dict[str, Any]:
    """CPU count, Python, PostgreSQL and its durability settings, library versions, date."""
    from importlib.metadata import version

    import django
    import psycopg

    settings = {}
    with psycopg.connect(server.dsn(), autocommit=True) as connection:
        for name in ("fsync", "synchronous_commit", "full_page_writes", "autovacuum"):
            row = connection.execute(f"SHOW {name}").fetchone()
            settings[name] = row[0] if row else "?"
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load average": f"{os.getloadavg()[0]:.2f}",
        "machine": platform.platform(),
        "python": sys.version.split()[0],
        "postgresql": server.version(),
        "postgresql settings": ", ".join(f"{k}={v}" for k, v in settings.items()),
        "django": django.get_version(),
        "python-event-sourcery": version("python-event-sourcery"),
        "eventsourcing": version("eventsourcing"),
        "psycopg": version("psycopg"),
    }


def write_group(mode: str, group: str, rows: list[Row], notes: dict[str, Any]) -> Path:
    """Write ``out/<mode>/<group>.jsonl``: one line per measurement, then the machine notes."""
    folder = OUT / mode
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{group}.jsonl"
    with path.open("w") as handle:
        for row in rows:
            handle.write(json.dumps(row, default=str) + "\n")
        handle.write(json.dumps({"machine": notes}) + "\n")
    return path


def read_groups(mode: str) -> tuple[list[Row], list[dict[str, Any]]]:
    """All measurements and machine notes found in ``out/<mode>/*.jsonl``."""
    rows, notes = [], []
    for path in sorted((OUT / mode).glob("*.jsonl")):
        for line in path.read_text().splitlines():
            item = json.loads(line)
            if "machine" in item:
                notes.append(item["machine"] | {"group": path.stem})
            else:
                rows.append(item)
    return rows, notes
