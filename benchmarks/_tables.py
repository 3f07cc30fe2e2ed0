"""The Markdown tables of a mode's results: contenders side by side, concurrent writers, the
million-event catch-up, profiles by component, live latency and failures."""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks._report import Row, fmt, medians, ratio, ratio_text

TITLES = {
    "append_single": "append 1 event to a new stream",
    "append_batch10": "append 10 events to a new stream",
    "append_versioned": "versioned appends to one stream",
    "load_1000": "load a 1,000-event stream",
    "catchup": "catch-up, build_batch(500), 20,000 events",
    "catchup_1m": "catch-up, build_batch(500), 1,000,000 events",
    "outbox_drain": "outbox drain, Outbox.run (1,000 entries)",
    "outbox_deep": "Outbox.run(limit=100) per atomic(), 50 streams x 100 entries",
    "relay_noop": "outbox drain, one relay, no-op publisher (30,000 entries)",
    "relay_redis": "outbox drain, one relay, Redis Streams",
    "relay_kafka": "outbox drain, one relay, Kafka (acks=all)",
    "relay_kafka_cloudevents": "outbox drain, one relay, Kafka, CloudEvents",
    "relay_two_noop": "outbox drain, two relays, no-op publisher",
    "latency_iter": "live latency, build_iter (p50)",
    "latency_batch": "live latency, build_batch(10) (p50)",
}

FLOOR_TARGETS = {
    "append_single": 0.8,
    "append_batch10": 0.8,
    "append_versioned": 0.8,
    "load_1000": 0.8,
    "catchup": 0.8,
    "catchup_1m": 0.8,
    "outbox_drain": 0.5,
    "outbox_deep": 0.5,
    "relay_noop": 0.8,
}
"""Issues 14 and 32: eventhex / floor in the headline mode (the relays against the relay
floor)."""

PEER_TARGET = 1.0
"""Issue 22: eventhex / eventsourcing in every scenario both run."""

IMPL_TITLES = {
    "eventhex": "eventhex",
    "floor": "floor",
    "eventsourcing": "eventsourcing 9.5.6",
    "upstream": "0.6.1",
}


def _target(value: float | None, target: float | None) -> str:
    if target is None or value is None:
        return ""
    return f"≥ {target:g} {'✓' if value >= target else '✗'}"


def _floor_of(scenario: str) -> str:
    return "relay_floor" if scenario.startswith("relay_") else scenario


def comparison_table(rows: list[Row], db: str, targets: bool) -> str:
    """eventhex beside the floor, eventsourcing 9.5.6 and python-event-sourcery 0.6.1."""
    data = medians(rows)
    scenarios = [s for s in TITLES if (db, s, "eventhex") in data]
    if not scenarios:
        return ""
    head = "| scenario | unit | eventhex | floor | eventsourcing 9.5.6 | 0.6.1 | eventhex/floor "
    head += "| eventhex/eventsourcing | eventhex/0.6.1 |"
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for scenario in scenarios:
        ours = data.get((db, scenario, "eventhex"))
        floor = data.get((db, _floor_of(scenario), "floor"))
        peer = data.get((db, scenario, "eventsourcing"))
        upstream = data.get((db, "outbox_drain" if "relay" in scenario else scenario, "upstream"))
        (t_floor, r_floor), (t_peer, r_peer) = ratio_text(ours, floor), ratio_text(ours, peer)
        t_up, _ = ratio_text(ours, upstream)
        floor_mark = _target(r_floor, FLOOR_TARGETS.get(scenario)) if targets else ""
        peer_mark = _target(r_peer, PEER_TARGET) if targets and peer else ""
        unit = (ours or {}).get("unit", "")
        lines.append(
            f"| {TITLES[scenario]} | {unit} | {fmt(ours and ours['value'])} "
            f"| {fmt(floor and floor['value'])} | {fmt(peer and peer['value'])} "
            f"| {fmt(upstream and upstream['value'])} "
            f"| {t_floor} {floor_mark} | {t_peer} {peer_mark} | {t_up} |"
        )
    return "\n".join(lines)


def writers_table(rows: list[Row], targets: bool = True) -> str:
    """Events/s of 1, 4 and 16 writer processes, with and without notifications."""
    data = medians(rows)
    counts = sorted({r["writers"] for r in rows if "writers" in r})
    if not counts:
        return ""

    def value(impl: str, writers: int, notify: bool) -> dict[str, Any] | None:
        return data.get(("postgres", f"writers_{writers}" + ("" if notify else "_quiet"), impl))

    lines = [
        "| writers | eventhex | eventhex, no notify | floor | floor, no notify "
        "| eventsourcing 9.5.6 | eventhex/floor | eventhex/eventsourcing "
        "| eventhex / its 1 writer | without notify / with |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    one = value("eventhex", 1, True)
    for writers in counts:
        ours, quiet = value("eventhex", writers, True), value("eventhex", writers, False)
        floor, floor_quiet = value("floor", writers, True), value("floor", writers, False)
        peer = value("eventsourcing", writers, True)
        scaling_text, scaling = ratio_text(ours, one)
        mark = f" {_target(scaling, 1.8)}" if writers == 4 and targets else ""
        lines.append(
            f"| {writers} | {fmt(ours and ours['value'])} | {fmt(quiet and quiet['value'])} "
            f"| {fmt(floor and floor['value'])} | {fmt(floor_quiet and floor_quiet['value'])} "
            f"| {fmt(peer and peer['value'])} | {ratio_text(ours, floor)[0]} "
            f"| {ratio_text(ours, peer)[0]} | {scaling_text}{mark} "
            f"| {ratio_text(quiet, ours)[0]} |"
        )
    return "\n".join(lines)


def million_table(rows: list[Row]) -> str:
    """Catch-up over 1,000,000 events beside 20,000: rate, its ratio, the client's CPU per
    event, resident-set growth, and whether autovacuum worked on the table during the read."""
    data = medians(rows)
    lines = [
        "| contender | events/s at 20,000 | events/s at 1,000,000 | 1M / 20k "
        "| client CPU µs/event 20k / 1M | RSS growth 20k / 1M | peak RSS 1M "
        "| autovacuum during the 1M reads |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    found = False
    for impl in ("eventhex", "floor"):
        small = data.get(("postgres", "catchup", impl))
        large = data.get(("postgres", "catchup_1m", impl))
        if not large:
            continue
        found = True
        small_rows, big = (small or {}).get("rows", []), large["rows"]
        mark = f" {_target(ratio(large, small), 0.8)}" if impl == "eventhex" else ""
        lines.append(
            f"| {impl} | {fmt(small and small['value'])} | {fmt(large['value'])} "
            f"| {fmt(ratio(large, small), 'x')}{mark} "
            f"| {_cpu_per_event(small_rows)} / {_cpu_per_event(big)} "
            f"| {_mib(_largest(small_rows, 'rss_growth_mib'))} / "
            f"{_mib(_largest(big, 'rss_growth_mib'))} "
            f"| {_mib(_largest(big, 'peak_rss_mib'))} | {_autovacuum(big)} |"
        )
    return "\n".join(lines) if found else ""


def _cpu_per_event(rows: list[Row]) -> str:
    values = [r["measured_cpu_s"] / r["events"] * 1e6 for r in rows if r.get("measured_cpu_s")]
    return fmt(statistics.median(values)) if values else "-"


def _largest(rows: list[Row], key: str) -> float | None:
    return max((r[key] for r in rows if r.get(key) is not None), default=None)


def _autovacuum(rows: list[Row]) -> str:
    """Per repetition, whether autovacuum's counts moved while the catch-up read."""
    return ", ".join(
        "yes" if r.get("statistics_before") != r.get("statistics_after") else "no" for r in rows
    )


def time_split_table(rows: list[Row]) -> str:
    """Per scenario and contender (PostgreSQL), where the measured part's wall-clock time went:
    client CPU (of it, Python's garbage collector), the PostgreSQL backend's CPU, and the rest,
    waiting (the disk flush on COMMIT, locks, a busy machine). Milliseconds, medians over the
    repetitions, unprofiled runs."""
    data = medians(rows)
    lines = [
        "| scenario | contender | wall | client CPU | of it GC | server CPU | waiting |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for scenario in TITLES:
        ours = (data.get(("postgres", scenario, "eventhex")) or {}).get("rows", [])
        if not any(r.get("measured_wall_s") for r in ours):
            continue
        for impl in ("eventhex", "floor", "eventsourcing", "upstream"):
            key = ("postgres", _floor_of(scenario) if impl == "floor" else scenario, impl)
            found = (data.get(key) or {}).get("rows", [])
            measured = [r for r in found if r.get("measured_wall_s")]
            if not measured:
                continue

            def ms(field: str, rows: list[Row] = measured) -> float | None:
                values = [r[field] for r in rows if r.get(field) is not None]
                return statistics.median(values) * 1000 if values else None

            wall, cpu = ms("measured_wall_s"), ms("measured_cpu_s")
            gc, server = ms("measured_gc_s"), ms("measured_server_cpu_s")
            waiting = None if wall is None else max(wall - (cpu or 0) - (server or 0), 0.0)
            lines.append(
                f"| {TITLES[scenario]} | {IMPL_TITLES[impl]} | {fmt(wall)} | {fmt(cpu)} "
                f"| {fmt(gc)} | {fmt(server)} | {fmt(waiting)} |"
            )
    return "\n".join(lines) if len(lines) > 2 else ""


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} MiB"


def profiles_section(rows: list[Row]) -> str:
    """Per scenario, each contender's profiled milliseconds by component."""
    profiles = [r for r in rows if r.get("kind") == "profile" and "components" in r]
    if not profiles:
        return ""
    out = []
    for scenario in dict.fromkeys(r["scenario"] for r in profiles):
        sides = {r["impl"]: r for r in profiles if r["scenario"] == scenario}
        impls = [i for i in ("eventhex", "floor", "eventsourcing") if i in sides]
        names = [c for c in next(iter(sides.values()))["components"]
                 if any(sides[i]["components"].get(c, 0) >= 0.0005 for i in impls)]  # fmt: skip
        n = next(iter(sides.values()))["n"]
        lines = [
            f"**{TITLES.get(scenario, scenario)}** (n={n:,}; ms of the measured part)",
            "",
            "| component | " + " | ".join(IMPL_TITLES[i] for i in impls) + " |",
            "|---|" + "---:|" * len(impls),
        ]
        for name in names:
            cells = []
            for impl in impls:
                seconds = sides[impl]["components"].get(name, 0.0)
                total = sides[impl]["profiled_s"]
                share = seconds / total * 100 if total else 0
                cells.append(f"{seconds * 1000:,.0f} ({share:.0f} %)")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        total = " | ".join(f"**{sides[i]['profiled_s'] * 1000:,.0f}**" for i in impls)
        lines.append(f"| total | {total} |")
        for field, label in (
            ("measured_gc_s", "of the above, Python's garbage collector"),
            ("measured_server_cpu_s", "PostgreSQL backend CPU (inside the waits above)"),
        ):
            cells = [sides[i].get(field) for i in impls]
            if any(cell is not None for cell in cells):
                shown = " | ".join("-" if c is None else f"{c * 1000:,.0f}" for c in cells)
                lines.append(f"| {label} | {shown} |")
        out.append("\n".join(lines))
    return "\n\n".join(out)


def latency_section(rows: list[Row]) -> str:
    """Percentiles of the live-latency rows."""
    latency = [r for r in rows if r.get("scenario", "").startswith("latency") and "value" in r]
    if not latency:
        return ""
    lines = [
        "| scenario | impl | received/sent | p50 ms | p95 ms | p99 ms |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in latency:
        lines.append(
            f"| {r['scenario']} | {r['impl']} | {r.get('received')}/{r.get('sent')} "
            f"| {fmt(r['value'])} | {fmt(r.get('p95'))} | {fmt(r.get('p99'))} |"
        )
    return "\n".join(lines)


def text_sections(rows: list[Row]) -> list[tuple[str, str]]:
    """(title, text) of the rows that carry a preformatted section (the relay's)."""
    return [(r["title"], r["text"]) for r in rows if r.get("kind") == "section"]


def failures(rows: list[Row]) -> str:
    """One line per failed measurement."""
    failed = [r for r in rows if "error" in r]
    return "\n".join(
        f"- {r.get('db')} {r.get('scenario')} {r.get('impl')}: "
        f"`{(r['error'].strip().splitlines() or [''])[-1][:200]}`"
        for r in failed
    )
