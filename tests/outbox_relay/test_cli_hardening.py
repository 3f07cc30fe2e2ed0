"""The command line with hostile or careless input: secrets never shown, outside text escaped,
clean errors instead of tracebacks."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from eventhex_core_ports.in_memory.relay_source import InMemoryOutboxSource
from eventhex_outbox_relay.cli import main
from eventhex_outbox_relay.settings import SettingsError, load_settings
from tests.outbox_relay._servers import free_port
from tests.reliability._report import ReliabilityReport

OUTBOX = InMemoryOutboxSource()
SOURCE = "tests.outbox_relay.test_cli_hardening:OUTBOX"
PASSWORD = "hunter2-secret"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("SOURCE", "PUBLISHER", "WEBHOOK_SECRET", "HTTP_PORT"):
        monkeypatch.delenv(f"EVENTHEX_RELAY_{name}", raising=False)
    logger = logging.getLogger("eventhex")
    handlers, level, propagate = logger.handlers[:], logger.level, logger.propagate
    yield
    logger.handlers[:], logger.propagate = handlers, propagate
    logger.setLevel(level)


@pytest.mark.parametrize(
    "url",
    [
        f"amqp://relay:{PASSWORD}@rabbit:5672/%2F?exchange=e",
        f"redis://:{PASSWORD}@redis:6379/0",
        f"https://hook:{PASSWORD}@example.com/hook",
    ],
)
def test_the_publisher_url_is_a_secret(url: str, reliability: ReliabilityReport) -> None:
    reliability.tried("relay secret: publisher URL in repr")
    settings = load_settings({"source": "x", "publisher": url})
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings.model_dump())
    assert PASSWORD not in settings.publisher_shown()
    assert "***@" in settings.publisher_shown()
    assert settings.publisher_url == url
    reliability.handled("relay secret: publisher URL in repr")


@pytest.mark.parametrize(
    "url",
    [
        f"relay:{PASSWORD}@rabbit:5672",  # scheme forgotten
        f"//relay:{PASSWORD}@rabbit:5672",
        f"kafka://relay:{PASSWORD}@k:9092?topic=a{{bad}}",
        f"kafka://relay:{PASSWORD}@k:9092?enable.idempotence=false",
        f"redis://:{PASSWORD}@redis:6379/0?maxlen=abc",
        f"nats://u:{PASSWORD}@n:4222?subject=a.*",
    ],
)
def test_a_bad_publisher_url_is_explained_without_its_password(
    url: str, capsys: pytest.CaptureFixture[str], reliability: ReliabilityReport
) -> None:
    reliability.tried("relay secret: bad publisher URL in error")
    assert main(["drain", "--source", SOURCE, "--publisher", url]) == 2
    err = capsys.readouterr().err
    assert "invalid setting EVENTHEX_RELAY_PUBLISHER (--publisher)" in err
    assert PASSWORD not in err
    assert "Traceback" not in err
    reliability.handled("relay secret: bad publisher URL in error")


def test_a_relay_logs_its_publisher_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"null://relay:{PASSWORD}@nowhere"
    assert main(["drain", "--source", SOURCE, "--publisher", url, "--log-format", "text"]) == 0
    err = capsys.readouterr().err
    assert "null://relay:***@nowhere" in err
    assert PASSWORD not in err


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            f"kafka://k:9092?topic=ev.{{tenant}}&sasl.username=bob&sasl.password={PASSWORD}",
            "kafka://k:9092?topic=ev.{tenant}&sasl.username=***&sasl.password=***",
        ),
        (
            f"https://hooks.example.com/in?token={PASSWORD}&v=",
            "https://hooks.example.com/in?token=***&v=",
        ),
        (f"https://hooks.example.com/in?{PASSWORD}", "https://hooks.example.com/in?***"),
        (
            f"https://hooks.example.com/services/T0B1/B2C3/{PASSWORD}0a1B2c3D4e5F",
            "https://hooks.example.com/services/T0B1/B2C3/***",
        ),
        (
            f"https://api.example.com/v1/secret/{PASSWORD}/in",
            "https://api.example.com/v1/secret/***/***",
        ),
        (
            f"https://api.example.com/api/webhooks/42/{PASSWORD}",
            "https://api.example.com/api/webhooks/***/***",
        ),
        (f"https://api.example.com/in;token={PASSWORD}", "https://api.example.com/in;token=***"),
        (f"https://api.example.com/in#{PASSWORD}", "https://api.example.com/in#***"),
        (f"redis://:{PASSWORD}@redis:6379/0?maxlen=100", "redis://:***@redis:6379/0?maxlen=100"),
        (
            f"amqp://u:{PASSWORD}@rabbit:5672/%2F?exchange=e",
            "amqp://u:***@rabbit:5672/%2F?exchange=e",
        ),
        (
            f"nats://{PASSWORD}@n:4222?stream=s&subject=a.b",
            "nats://***@n:4222?stream=s&subject=a.b",
        ),
    ],
)
def test_secrets_in_a_url_query_path_or_fragment_are_masked(
    url: str, shown: str, capsys: pytest.CaptureFixture[str], reliability: ReliabilityReport
) -> None:
    reliability.tried("relay secret: URL query or path")
    assert load_settings({"source": "x", "publisher": url}).publisher_shown() == shown
    assert PASSWORD not in shown
    reliability.handled("relay secret: URL query or path")


def test_the_start_up_log_masks_query_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"null://nowhere/token/{PASSWORD}?sasl.password={PASSWORD}&api_key={PASSWORD}"
    assert main(["drain", "--source", SOURCE, "--publisher", url, "--log-format", "text"]) == 0
    err = capsys.readouterr().err
    assert "null://nowhere/token/***?sasl.password=***&api_key=***" in err
    assert PASSWORD not in err


def test_an_empty_webhook_secret_stops_the_relay(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVENTHEX_RELAY_WEBHOOK_SECRET", "")
    assert main(["drain", "--source", SOURCE, "--publisher", "https://example.com/h"]) == 2
    assert "EVENTHEX_RELAY_WEBHOOK_SECRET" in capsys.readouterr().err


def test_a_secret_over_plain_http_is_warned_about() -> None:
    def warnings(url: str, secret: str | None = "k") -> list[str]:
        given = {"source": "x", "publisher": url, "webhook_secret": secret}
        return load_settings(given).warnings()

    [warning] = warnings("http://hooks.example.com/in")
    assert "plain http://" in warning
    assert warnings("https://hooks.example.com/in") == []
    assert warnings("http://127.0.0.1:8080/in") == []  # this machine only
    assert warnings("http://hooks.example.com/in", secret=None) == []
    assert len(warnings(f"http://u:{PASSWORD}@hooks.example.com/in", secret=None)) == 1
    with pytest.raises(SettingsError, match="WEBHOOK_SECRET"):
        warnings("https://hooks.example.com/in", secret="")


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["dead-letters", "list", "--limit", "-1"], "--limit"),
        (["dead-letters", "list", "--limit", "lots"], "--limit"),
        (["dead-letters", "list", "--after", "-5"], "--after"),
        (["dead-letters", "replay", "-3"], ""),
    ],
)
def test_bad_numbers_are_usage_errors(
    args: list[str], named: str, capsys: pytest.CaptureFixture[str], reliability: ReliabilityReport
) -> None:
    reliability.tried(f"relay CLI: {' '.join(args[1:])}")
    assert main([*args, "--source", SOURCE]) == 2
    err = capsys.readouterr().err
    assert named in err
    assert "Traceback" not in err
    reliability.handled(f"relay CLI: {' '.join(args[1:])}")


def test_dead_letters_list_escapes_what_came_from_outside(
    capsys: pytest.CaptureFixture[str], reliability: ReliabilityReport
) -> None:
    reliability.tried("relay terminal injection: last_error")
    source = InMemoryOutboxSource()
    message = source.enqueue(stream_category="cat\x1b]0;owned\x07", event_name="E\r\nfake")
    source.claim("relay", 1, timedelta(minutes=1))
    source.dead_letter("relay", message.entry_id, "HTTP 500: \x1b[2J\x1b[Hall good\r\n$ ")
    OUTBOX_LIST[:] = [source]
    assert main(["dead-letters", "list", "--source", f"{__name__}:listed"]) == 0
    out = capsys.readouterr().out
    for control in ("\x1b", "\r", "\x07"):
        assert control not in out
    assert out.count("\n") == 1  # one line per dead letter, whatever its text
    assert "\\x1b[2J" in out
    assert "E\\r\\nfake" in out
    reliability.handled("relay terminal injection: last_error")


OUTBOX_LIST: list[InMemoryOutboxSource] = []


def listed() -> InMemoryOutboxSource:
    """The source the escaping test prepared."""
    return OUTBOX_LIST[0]


def test_status_with_the_database_down_is_a_clean_error(
    reliability: ReliabilityReport,
) -> None:
    """The real Django source on a PostgreSQL port where nothing listens."""
    reliability.tried("relay CLI: status with the database down")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.outbox_relay.relay_settings",
        "RELAY_TEST_DB_PORT": str(free_port()),
        "RELAY_TEST_DB_NAME": "nothing_here",
    }
    done = subprocess.run(
        [sys.executable, "-m", "eventhex_outbox_relay", "status", "--source", "django"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "eventhex-relay status: cannot read the outbox: OperationalError" in done.stderr
    assert "Traceback" not in done.stderr
    reliability.handled("relay CLI: status with the database down")


@pytest.mark.parametrize(
    ("publisher", "module", "extra"),
    [
        ("http://127.0.0.1:1/hook", "httpx", "webhook"),
        ("redis://127.0.0.1:1/0", "redis", "redis"),
        ("nats://127.0.0.1:1", "nats", "nats"),
        ("amqp://127.0.0.1:1/", "pika", "rabbitmq"),
    ],
)
def test_a_missing_client_names_the_extra_that_installs_it(
    publisher: str,
    module: str,
    extra: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each extra installs only its own client, so a relay without it stops with the fix."""
    for name in [m for m in sys.modules if m.startswith("eventhex_outbox_relay.publishers.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    assert main(["drain", "--source", SOURCE, "--publisher", publisher]) == 2
    err = capsys.readouterr().err
    assert f"pip install 'eventhex-outbox-relay[{extra}]'" in err
    assert "Traceback" not in err
