"""Invalid ``DjangoConfig`` and relay settings fail at start-up with errors naming the field.

The relay's flag and environment errors (exit code 2, the setting named with a fix) are proven
in ``tests/outbox_relay/test_cli.py``; these add the edge values it does not try.
"""

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from eventhex_django_adapter import DjangoConfig
from eventhex_outbox_relay.settings import SettingsError, load_settings

from ._report import ReliabilityReport

BAD_CONFIGS: dict[str, tuple[dict[str, Any], str]] = {
    "outbox_attempts 0": ({"outbox_attempts": 0}, "outbox_attempts"),
    "outbox_attempts text": ({"outbox_attempts": "many"}, "outbox_attempts"),
    "gap_retry_interval 0": ({"gap_retry_interval": timedelta(0)}, "gap_retry_interval"),
    "gap_retry_interval negative": (
        {"gap_retry_interval": timedelta(seconds=-1)},
        "gap_retry_interval",
    ),
    "database blank": ({"database": "  "}, "database"),
    "max_event_bytes 0": ({"max_event_bytes": 0}, "max_event_bytes"),
    "max_event_bytes negative": ({"max_event_bytes": -5}, "max_event_bytes"),
    "subscription_reconnect_timeout negative": (
        {"subscription_reconnect_timeout": timedelta(seconds=-1)},
        "subscription_reconnect_timeout",
    ),
    "unknown field": ({"outbox_atempts": 3}, "outbox_atempts"),
}


@pytest.mark.parametrize(("label", "case"), BAD_CONFIGS.items(), ids=list(BAD_CONFIGS))
def test_invalid_django_config_names_the_field(
    reliability: ReliabilityReport, label: str, case: tuple[dict[str, Any], str]
) -> None:
    values, field = case
    reliability.tried(f"DjangoConfig: {label}")
    with pytest.raises(ValidationError) as raised:
        DjangoConfig(**values)
    assert field in str(raised.value)
    reliability.handled(f"DjangoConfig: {label}")


def test_django_config_is_frozen_and_documents_its_defaults(reliability: ReliabilityReport) -> None:
    config = DjangoConfig()
    assert config.max_event_bytes == 1024 * 1024
    assert config.subscription_reconnect_timeout == timedelta(seconds=30)
    reliability.tried("DjangoConfig: assignment to a frozen config")
    with pytest.raises(ValidationError, match="frozen"):
        config.max_event_bytes = 10  # type: ignore[misc]
    reliability.handled("DjangoConfig: assignment to a frozen config")


BAD_RELAY_SETTINGS: dict[str, tuple[dict[str, Any], str]] = {
    "batch size 0": ({"batch_size": 0}, "EVENTHEX_RELAY_BATCH_SIZE"),
    "lease 0": ({"lease_seconds": 0}, "EVENTHEX_RELAY_LEASE_SECONDS"),
    "poll interval negative": ({"poll_interval": -0.5}, "EVENTHEX_RELAY_POLL_INTERVAL"),
    "backoff base 0": ({"backoff_base": 0}, "EVENTHEX_RELAY_BACKOFF_BASE"),
    "http port 70000": ({"http_port": 70000}, "EVENTHEX_RELAY_HTTP_PORT"),
    "publish timeout 0": ({"publish_timeout": 0}, "EVENTHEX_RELAY_PUBLISH_TIMEOUT"),
    "publisher scheme": ({"publisher": "mqtt://broker:1883"}, "EVENTHEX_RELAY_PUBLISHER"),
    "kafka acks": ({"publisher": "kafka://broker:9092?acks=1"}, "EVENTHEX_RELAY_PUBLISHER"),
    "kafka topic template": (
        {"publisher": "kafka://broker:9092?topic=ev.{stream}"},
        "EVENTHEX_RELAY_PUBLISHER",
    ),
    "envelope": ({"envelope": "xml"}, "EVENTHEX_RELAY_ENVELOPE"),
    "publisher garbage": ({"publisher": "::not a url::"}, "EVENTHEX_RELAY_PUBLISHER"),
}


@pytest.mark.parametrize(
    ("label", "case"), BAD_RELAY_SETTINGS.items(), ids=list(BAD_RELAY_SETTINGS)
)
def test_invalid_relay_settings_name_the_setting_and_the_fix(
    monkeypatch: pytest.MonkeyPatch,
    reliability: ReliabilityReport,
    label: str,
    case: tuple[dict[str, Any], str],
) -> None:
    monkeypatch.setenv("EVENTHEX_RELAY_SOURCE", "django")
    values, setting = case
    reliability.tried(f"relay settings: {label}")
    with pytest.raises(SettingsError) as raised:
        load_settings(values)
    assert setting in str(raised.value)
    assert "fix:" in str(raised.value)
    reliability.handled(f"relay settings: {label}")
