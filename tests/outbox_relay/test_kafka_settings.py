"""Kafka URLs, topic names and trace context: what the relay checks before any broker is asked."""

from __future__ import annotations

import string

import pytest

from eventhex_core_ports.in_memory.relay_source import InMemoryOutboxSource
from eventhex_outbox_relay.publishers import publisher_from_url
from eventhex_outbox_relay.publishers._trace import trace_headers
from eventhex_outbox_relay.publishers._url import kafka_options
from eventhex_outbox_relay.settings import SettingsError, load_settings

LEGAL = set(string.ascii_letters + string.digits + "._-")
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_kafka_url_options() -> None:
    options = kafka_options("kafka://k1:9092,k2:9092")
    assert (options.bootstrap, options.topic, options.config) == ("k1:9092,k2:9092", "eventhex", {})
    assert options.fixed_topic
    options = kafka_options("kafka://k:9092/?topic=ev.{tenant}.{category}&compression.type=zstd")
    assert not options.fixed_topic
    assert options.config == {"compression.type": "zstd"}
    secured = kafka_options("kafka://relay:p%40ss@k:9093?topic=ev&sasl.mechanism=SCRAM-SHA-512")
    assert secured.config == {
        "security.protocol": "sasl_ssl",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "relay",
        "sasl.password": "p@ss",
    }


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("kafka://?topic=ev", "names no broker"),
        ("kafka://k:9092/ev", "has a path"),
        ("kafka://k:9092?topic=", "topic is empty"),
        ("kafka://k:9092?topic=ev.{stream}", "unknown placeholder {stream}"),
        ("kafka://k:9092?topic=ev.{category!r}", "unknown placeholder"),
        ("kafka://k:9092?topic=ev.{category:>5}", "unknown placeholder"),
        ("kafka://k:9092?topic=ev.{category", "Kafka topic template"),
        ("kafka://k:9092?topic=ev/{category}", "outside [A-Za-z0-9._-]"),
        ("kafka://k:9092?topic=..", "not a legal topic name"),
        ("kafka://k:9092?topic=" + "x" * 250, "not a legal topic name"),
        ("kafka://k:9092?topic={tenant}{category}", "no '.' between {tenant} and {category}"),
        ("kafka://k:9092?topic=ev.{tenant}-{category}", "no '.' between"),
        ("kafka://k:9092?topic={category}_{category}", "no '.' between"),
        ("kafka://k:9092?topic=" + "x" * 180 + ".{tenant}.{category}", "too long"),
        ("kafka://k:9092?acks=1", "acks cannot be changed"),
        ("kafka://k:9092?enable.idempotence=false", "always produces idempotently"),
        ("kafka://k:9092?message.timeout.ms=1", "--publish-timeout"),
    ],
)
def test_bad_kafka_urls_are_refused_at_start_up(url: str, named: str) -> None:
    with pytest.raises(ValueError) as raised:
        kafka_options(url)
    assert named in str(raised.value)
    with pytest.raises(SettingsError, match="EVENTHEX_RELAY_PUBLISHER"):
        load_settings({"source": "x", "publisher": url})


def test_librdkafka_refuses_an_unknown_setting_at_start_up() -> None:
    with pytest.raises(ValueError, match="Kafka producer settings") as raised:
        publisher_from_url("kafka://127.0.0.1:9?topic=ev&no.such.setting=1")
    assert "no.such.setting" in str(raised.value)


def test_an_unknown_envelope_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown envelope 'xml'"):
        publisher_from_url("stdout:", envelope="xml")


def _context(values: object) -> dict[str, object]:
    return {"components": {"opentelemetry": {"values": values}}}


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (_context({"traceparent": TRACEPARENT}), {"traceparent": TRACEPARENT}),
        (
            _context({"traceparent": TRACEPARENT, "tracestate": "a=1,b=2"}),
            {"traceparent": TRACEPARENT, "tracestate": "a=1,b=2"},
        ),
        (_context({"traceparent": TRACEPARENT, "tracestate": "a=1\r\nX: y"}), None),
        (_context({"traceparent": TRACEPARENT.upper()}), {}),
        (_context({"traceparent": "ff" + TRACEPARENT[2:]}), {}),
        (_context({"traceparent": f"00-{'0' * 32}-00f067aa0ba902b7-01"}), {}),
        (_context({"traceparent": f"00-4bf92f3577b34da6a3ce929d0e0e4736-{'0' * 16}-01"}), {}),
        (_context({"traceparent": TRACEPARENT + "-extra"}), {}),
        (_context({"traceparent": 7}), {}),
        (_context({"tracestate": "a=1"}), {}),
        (_context("not a mapping"), {}),
        ({"components": {"opentelemetry": "nope"}}, {}),
        ({"components": []}, {}),
        ({}, {}),
    ],
)
def test_trace_headers_only_from_a_valid_w3c_traceparent(
    context: dict[str, object], expected: dict[str, str] | None
) -> None:
    message = InMemoryOutboxSource().enqueue(context=context)
    if expected is None:  # a tracestate a header cannot carry is dropped, the parent kept
        expected = {"traceparent": TRACEPARENT}
    assert trace_headers(message) == expected
