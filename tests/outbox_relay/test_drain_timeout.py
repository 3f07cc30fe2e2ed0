"""``eventhex-relay drain`` is a one-off: with a broker it cannot reach it exits 1 after
``--drain-timeout`` seconds, printing the broker's error; ``run`` keeps retrying."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "tests.outbox_relay._filled_outbox:OUTBOX"
NOWHERE = "redis://nohost:1"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHEX_RELAY_")}
    return {**env, "PYTHONPATH": str(ROOT), "EVENTHEX_RELAY_LOG_FORMAT": "text", **extra}


def test_drain_exits_1_with_the_broker_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "eventhex_outbox_relay", "drain", "--source", SOURCE],
        env=_env(EVENTHEX_RELAY_PUBLISHER=NOWHERE, EVENTHEX_RELAY_DRAIN_TIMEOUT="1"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("eventhex-relay drain: gave up after 1s of failures; the last: ")
    assert "broker unavailable: redis: Error" in last
    assert "nohost:1" in last
    assert last.endswith("(to wait longer: --drain-timeout or EVENTHEX_RELAY_DRAIN_TIMEOUT)")
    assert "Traceback" not in done.stderr


def test_run_keeps_retrying_whatever_the_drain_timeout() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "eventhex_outbox_relay", "run", "--source", SOURCE],
        env=_env(
            EVENTHEX_RELAY_PUBLISHER=NOWHERE,
            EVENTHEX_RELAY_DRAIN_TIMEOUT="0.5",
            EVENTHEX_RELAY_BACKOFF_BASE="0.5",
        ),
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        outages = 0
        # outages 2 to 4 come after waits of at least 0.25 + 0.5 + 1 s: past the drain timeout
        while outages < 4:
            line = process.stderr.readline()
            assert line, "the relay ended"
            outages += "broker unavailable" in line
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0
    assert "gave up" not in err
