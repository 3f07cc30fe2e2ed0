"""Our own query parameters of a publisher URL: split off, checked, and the URL shown safely.

Settings validation calls :func:`check_publisher_url` at start-up, without importing any broker
client, so a bad parameter stops the relay with a clear message instead of a traceback later.
"""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from eventhex_outbox_relay.publishers._names import TopicTemplate

__all__ = [
    "MASK",
    "SHOWN_PARAMETERS",
    "KafkaOptions",
    "NatsOptions",
    "check_publisher_url",
    "kafka_options",
    "nats_options",
    "pop_params",
    "redacted",
    "redis_maxlen",
]

_NAME = re.compile(r"[A-Za-z0-9_-]+")
_SUBJECT = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")


def pop_params(url: str, **defaults: str) -> tuple[str, dict[str, str]]:
    """Remove the parameters named in ``defaults`` from ``url``'s query.

    Returns:
        The URL without them, and their values (defaults where absent).
    """
    parts = urlsplit(url)
    kept, ours = [], dict(defaults)
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in defaults:
            ours[key] = value
        else:
            kept.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(kept))), ours


SHOWN_PARAMETERS = frozenset({"topic", "exchange", "stream", "subject", "maxlen", "ca_file"})
"""Query parameters of eventhex's own that never hold a secret: shown as they are."""

_SECRET_WORD = re.compile(
    r"token|secret|passw|pwd|key|auth|sig|credential|session|bearer|access|private|hook",
    re.IGNORECASE,
)
_TOKEN_LIKE = re.compile(r"(?=.*[A-Za-z])(?=.*\d)[A-Za-z0-9_~.+=%-]{16,}")
MASK = "***"


def redacted(url: str) -> str:
    """``url`` as it may be shown in a log or an error: no secret it may hold.

    - userinfo: the password (or a lone user part, often a token) becomes ``***``;
    - query: every value becomes ``***`` except eventhex's own :data:`SHOWN_PARAMETERS`
      (``sasl.password=***``, ``token=***``); a parameter without ``=`` is masked whole;
    - path: every segment after one whose name says secret (``token``, ``key``, ``secret``,
      ``auth``, ``hook``, ...), a segment that looks like a token (16 or more letters and
      digits, both present, as in chat webhooks' ``/services/T0/B0/XXXX``), and the value of a
      ``;name=value`` path parameter become ``***``;
    - fragment: masked whole.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if colon else f"{MASK}@{host}"
    return urlunsplit(
        (
            parts.scheme,
            netloc,
            _redacted_path(parts.path),
            _redacted_query(parts.query),
            MASK if parts.fragment else "",
        )
    )


def _redacted_query(query: str) -> str:
    shown = []
    for parameter in query.split("&") if query else []:
        key, equals, value = parameter.partition("=")
        if not equals:
            shown.append(MASK if key else "")
        elif unquote(key) in SHOWN_PARAMETERS or not value:
            shown.append(parameter)
        else:
            shown.append(f"{key}={MASK}")
    return "&".join(shown)


def _redacted_path(path: str) -> str:
    shown, secret_above = [], False
    for segment in path.split("/"):
        name, *parameters = segment.split(";")
        if secret_above or _TOKEN_LIKE.fullmatch(name):
            shown.append(MASK if segment else segment)
        else:
            masked = (
                f"{key}={MASK}" if equals else key
                for key, equals, _ in (parameter.partition("=") for parameter in parameters)
            )
            shown.append(";".join([name, *masked]))
        secret_above = secret_above or bool(_SECRET_WORD.search(segment))
    return "/".join(shown)


@dataclasses.dataclass(frozen=True)
class NatsOptions:
    """What a ``nats://`` or ``tls://`` URL says besides the server."""

    stream: str
    subject: str
    tls: bool
    ca_file: str | None


def nats_options(url: str) -> tuple[str, NatsOptions]:
    """Split and check the NATS publisher's parameters.

    Raises:
        ValueError: A stream or subject prefix outside the safe alphabet.
    """
    clean, params = pop_params(url, stream="eventhex", subject="eventhex", ca_file="")
    if not _NAME.fullmatch(params["stream"]):
        raise ValueError(f"NATS stream name {params['stream']!r} is not [A-Za-z0-9_-]+")
    if not _SUBJECT.fullmatch(params["subject"]):
        raise ValueError(
            f"NATS subject prefix {params['subject']!r} is not dot-separated [A-Za-z0-9_-]+ tokens"
        )
    tls = urlsplit(url).scheme == "tls"
    if params["ca_file"] and not tls:
        raise ValueError("ca_file applies to tls:// URLs only")
    options = NatsOptions(params["stream"], params["subject"], tls, params["ca_file"] or None)
    return clean, options


def redis_maxlen(url: str) -> tuple[str, str, int | None]:
    """The Redis URL without our parameters, the stream key and ``maxlen`` (None: no cap).

    Raises:
        ValueError: An empty stream key or a ``maxlen`` that is not a positive whole number.
    """
    clean, params = pop_params(url, stream="eventhex", maxlen="")
    if not params["stream"]:
        raise ValueError("Redis stream key is empty")
    text = params["maxlen"]
    if not text:
        return clean, params["stream"], None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"maxlen={text!r} is not a positive whole number")
    return clean, params["stream"], int(text)


KAFKA_FIXED = {
    "bootstrap.servers": "give the brokers as the URL's host:port list",
    "metadata.broker.list": "give the brokers as the URL's host:port list",
    "enable.idempotence": "the relay always produces idempotently",
    "acks": "the relay always waits for acks=all",
    "request.required.acks": "the relay always waits for acks=all",
    "max.in.flight.requests.per.connection": "the relay keeps it at 5, the idempotent maximum",
    "max.in.flight": "the relay keeps it at 5, the idempotent maximum",
    "message.timeout.ms": "set --publish-timeout (EVENTHEX_RELAY_PUBLISH_TIMEOUT) instead",
    "delivery.timeout.ms": "set --publish-timeout (EVENTHEX_RELAY_PUBLISH_TIMEOUT) instead",
    "enable.gapless.guarantee": "the relay orders each stream itself",
    "transactional.id": "the relay does not use transactions",
    "error_cb": "the relay sets its own callbacks",
    "logger": "the relay sets its own callbacks",
}
"""Producer settings a Kafka URL may not give, with the reason."""


@dataclasses.dataclass(frozen=True)
class KafkaOptions:
    """What a ``kafka://`` URL says: brokers, topic template and other producer settings."""

    bootstrap: str
    topic: str
    config: dict[str, str]

    @property
    def fixed_topic(self) -> bool:
        """Whether the topic template has no placeholder (one topic for every message)."""
        return not TopicTemplate(self.topic).fields


def kafka_options(url: str) -> KafkaOptions:
    """Split and check the Kafka publisher's URL.

    ``kafka://host:9092,host2:9092?topic=TEMPLATE&compression.type=zstd``: the brokers, the
    topic or a template with ``{category}`` and ``{tenant}`` (default ``eventhex``), and any
    other librdkafka producer setting. ``user:password@`` becomes ``sasl.username`` and
    ``sasl.password`` (with ``security.protocol=sasl_ssl`` and ``sasl.mechanism=PLAIN`` unless
    the URL says otherwise).

    Raises:
        ValueError: No broker, a bad topic template (see
            :class:`~eventhex_outbox_relay.publishers._names.TopicTemplate`), or a setting the
            relay fixes.
    """
    parts = urlsplit(url)
    config = dict(parse_qsl(parts.query, keep_blank_values=True))
    topic = config.pop("topic", "eventhex")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    if not hosts:
        raise ValueError("Kafka URL names no broker: use kafka://host:9092?topic=NAME")
    if parts.path not in ("", "/"):
        raise ValueError(
            f"Kafka URL has a path ({_redacted_path(parts.path)!r}); give the topic as ?topic=NAME"
        )
    if not topic:
        raise ValueError("Kafka topic is empty")
    TopicTemplate(topic)
    for key in config:
        if key in KAFKA_FIXED:
            raise ValueError(f"Kafka setting {key} cannot be changed: {KAFKA_FIXED[key]}")
    if userinfo:
        user, _, password = userinfo.partition(":")
        config = {
            "security.protocol": "sasl_ssl",
            "sasl.mechanism": "PLAIN",
            **config,
            "sasl.username": unquote(user),
            "sasl.password": unquote(password),
        }
    return KafkaOptions(hosts, topic, config)


def check_publisher_url(url: str) -> None:
    """Check the parameters eventhex reads from a publisher URL (the broker client checks the
    rest when it connects).

    Raises:
        ValueError: Naming the bad parameter.
    """
    scheme = urlsplit(url).scheme
    if scheme in ("redis", "rediss"):
        redis_maxlen(url)
    elif scheme in ("nats", "tls"):
        nats_options(url)
    elif scheme == "kafka":
        kafka_options(url)
    elif scheme in ("amqp", "amqps"):
        _, params = pop_params(url, exchange="eventhex")
        if not params["exchange"] or len(params["exchange"].encode()) > 255:
            raise ValueError("RabbitMQ exchange name must be 1 to 255 bytes")
