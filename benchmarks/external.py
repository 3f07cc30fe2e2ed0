"""Benchmarks written by other engineers, run by this runner when they exist.

``benchmarks/latency.py`` (subscription latency) and ``benchmarks/relay.py`` (outbox relay
drain) belong to the subscription and relay engineers; this module only calls them and records
what they report, it never changes them. Live latency calls ``latency.live_latency`` inside the
eventhex worker (see ``worker._latency``); the relay benchmark runs as its own command, and its
output goes into ``RESULTS.md`` verbatim (JSON lines it prints are kept as rows).
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks._postgres import PostgresServer

HERE = Path(__file__).resolve().parent
COMMANDS = {
    "outbox": (
        ["relay.py", "--messages", "30000", "--streams", "6000"],
        "Outbox relay drain (benchmarks/relay.py --messages 30000 --streams 6000)",
    )
}
RELAY_LINES = {
    "one relay, no-op publisher": "relay_noop",
    "one relay, Redis Streams": "relay_redis",
    "two relays, no-op publisher": "relay_two_noop",
}
RATE = re.compile(r"^(?P<name>.+?)\s{2,}(?P<rate>[\d,]+) msg/s")
TIMEOUT = 300


def run(group: str, server: PostgresServer) -> list[dict[str, Any]]:
    """Rows from the external benchmark belonging to ``group`` (none when it is absent)."""
    if group not in COMMANDS:
        return []
    (script, *arguments), title = COMMANDS[group]
    if not (HERE / script).exists():
        print(f"  (benchmarks/{script} is not there yet; skipped)", flush=True)
        return []
    print(f"  running benchmarks/{script} ...", flush=True)
    try:
        done = subprocess.run(
            [sys.executable, str(HERE / script), *arguments],
            cwd=HERE.parent,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as timeout:
        output = timeout.stdout if isinstance(timeout.stdout, str) else ""
        return [
            {
                "kind": "external",
                "title": title,
                "text": f"timed out\n{output}",
                "error": f"timed out after {TIMEOUT} s",
                "db": "postgres",
                "scenario": script,
                "impl": "external",
            }
        ]
    rows: list[dict[str, Any]] = []
    for line in done.stdout.splitlines():
        match = RATE.match(line)
        if match and match["name"].strip() in RELAY_LINES:
            rows.append(
                {
                    "impl": "eventhex",
                    "db": "postgres",
                    "n": 30000,
                    "rep": 0,
                    "scenario": RELAY_LINES[match["name"].strip()],
                    "value": float(match["rate"].replace(",", "")),
                    "unit": "messages/s",
                    "source": script,
                }
            )
        if line.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):
                rows.append({"kind": "external-row", "source": script, **json.loads(line)})
    text = done.stdout.strip() or done.stderr.strip()[-3000:]
    row: dict[str, Any] = {"kind": "external", "title": title, "text": text}
    if done.returncode != 0:
        row |= {
            "error": done.stderr[-3000:],
            "db": "postgres",
            "scenario": script,
            "impl": "external",
        }
    print("    " + "\n    ".join(text.splitlines()[-15:]), flush=True)
    return [row, *rows]
