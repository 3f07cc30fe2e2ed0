"""Relay settings: flags over ``EVENTHEX_RELAY_*`` environment variables, validated at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from eventhex_outbox_relay.publishers._url import check_publisher_url, redacted

__all__ = ["PUBLISHER_SCHEMES", "RelaySettings", "SettingsError", "flag_of", "load_settings"]

PUBLISHER_SCHEMES = (
    "stdout", "null", "redis", "rediss", "amqp", "amqps", "nats", "tls", "kafka", "http", "https",
)  # fmt: skip
_LOOPBACK = ("127.0.0.1", "::1", "localhost")

_FIXES = {
    "source": "name an installed source (e.g. 'django') or give 'package.module:attribute'",
    "source_options": (
        "give KEY=VALUE per flag (--source-option database=events), or a JSON object of "
        'strings in the environment (EVENTHEX_RELAY_SOURCE_OPTIONS=\'{"database": "events"}\')'
    ),
    "publisher": (
        "use stdout:, null:, redis://host:6379/0?stream=KEY&maxlen=N, amqp://user:pass@host:5672/"
        "vhost?exchange=NAME, nats://host:4222?stream=NAME&subject=PREFIX (tls:// for TLS), "
        "kafka://host:9092?topic=NAME (or a template such as topic=events.{category}), or an "
        "http(s):// URL"
    ),
    "envelope": "use eventhex (the default) or cloudevents",
    "batch_size": "give a whole number from 1 to 10000",
    "lease_seconds": "give seconds > 0, longer than publishing one batch takes",
    "poll_interval": "give seconds > 0 (e.g. 1)",
    "backoff_base": "give seconds > 0 (e.g. 1)",
    "backoff_max": "give seconds >= the backoff base (e.g. 300)",
    "http_port": "give a port from 0 to 65535, or leave it unset to serve nothing",
    "log_level": "use one of debug, info, warning, error",
    "log_format": "use json, text or auto",
    "publish_timeout": "give seconds > 0 (e.g. 10)",
    "drain_timeout": "give seconds > 0 (e.g. 60)",
    "webhook_secret": "give a non-empty key, or leave the variable unset to send unsigned",
    "http_host": "give an interface address such as 127.0.0.1 (0.0.0.0 for every interface)",
}


class RelaySettings(BaseSettings):
    """Everything a relay process is told; each field is also ``EVENTHEX_RELAY_<NAME>``.

    Attributes:
        source: The outbox source: an entry point name in ``eventhex.outbox_sources`` (the
            Django adapter installs ``django``) or a ``module:attribute`` path to a source or a
            factory returning one.
        source_options: Keyword arguments for the source's factory, e.g. ``{"database":
            "events"}`` for the ``django`` source; the factory's signature says which it takes.
        publisher: Where messages go, as a URL; its scheme picks the publisher. A secret: it may
            hold a password, so it is shown only redacted (:meth:`publisher_shown`).
        batch_size: Entries claimed per round trip.
        lease_seconds: How long a claim keeps other relays away.
        poll_interval: Longest wait for new entries between claims, in seconds.
        backoff_base: Upper bound of the first retry delay, in seconds; doubles per attempt.
        backoff_max: Cap of any retry delay, in seconds.
        owner: This relay's id in claims (default: host, pid and a random suffix).
        http_host: Interface of the operations port (loopback only by default).
        http_port: Operations port with ``/healthz`` and ``/metrics``; unset serves nothing.
        log_level: Logging level.
        log_format: ``json`` (one object per line), ``text`` (readable lines) or ``auto``
            (text when standard error is a terminal, JSON otherwise).
        publish_timeout: Seconds a broker or webhook may take to answer.
        drain_timeout: Seconds ``drain`` keeps retrying while it cannot reach the broker or the
            outbox's database, without a break, before it exits with code 1 (``run`` retries
            for ever).
        webhook_secret: Key of the webhook's HMAC-SHA256 signature header.
        envelope: The message format: ``eventhex`` (our JSON object) or ``cloudevents``
            (CloudEvents 1.0: binary content mode on Kafka, RabbitMQ, NATS and webhooks,
            structured JSON on Redis and standard output).
    """

    model_config = SettingsConfigDict(env_prefix="EVENTHEX_RELAY_", extra="forbid", frozen=True)

    source: str = Field(min_length=1)
    source_options: dict[str, str] = Field(default_factory=dict)
    publisher: SecretStr = SecretStr("stdout:")
    batch_size: int = Field(default=500, ge=1, le=10_000)
    lease_seconds: float = Field(default=30.0, gt=0)
    poll_interval: float = Field(default=1.0, gt=0)
    backoff_base: float = Field(default=1.0, gt=0)
    backoff_max: float = Field(default=300.0, gt=0)
    owner: str | None = None
    http_host: str = Field(default="127.0.0.1", min_length=1)
    http_port: int | None = Field(default=None, ge=0, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text", "auto"] = "auto"
    publish_timeout: float = Field(default=10.0, gt=0)
    drain_timeout: float = Field(default=60.0, gt=0)
    webhook_secret: SecretStr | None = None
    envelope: Literal["eventhex", "cloudevents"] = "eventhex"

    @field_validator("log_level", "envelope", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("source_options", mode="before")
    @classmethod
    def _key_value_pairs(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple):
            return value
        pairs = {}
        for item in value:
            key, equals, option = str(item).partition("=")
            if not (key and equals):
                raise ValueError(f"{item!r} is not KEY=VALUE")
            pairs[key] = option
        return pairs

    @field_validator("publisher")
    @classmethod
    def _known_scheme(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        try:
            scheme = urlsplit(url).scheme
        except ValueError:
            raise ValueError("the publisher URL cannot be parsed") from None
        if not scheme:
            raise ValueError("the publisher URL has no scheme")
        if scheme not in PUBLISHER_SCHEMES:
            raise ValueError(f"unknown publisher scheme {scheme!r}")
        check_publisher_url(url)
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _not_empty(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            raise ValueError("is empty, which would send webhooks unsigned")
        return value

    @model_validator(mode="after")
    def _backoff_order(self) -> Self:
        if self.backoff_max < self.backoff_base:
            raise ValueError("backoff_max is smaller than backoff_base")
        return self

    @property
    def lease(self) -> timedelta:
        """The lease as a duration."""
        return timedelta(seconds=self.lease_seconds)

    @property
    def publisher_url(self) -> str:
        """The publisher URL itself, password included: for the publisher only."""
        return self.publisher.get_secret_value()

    def publisher_shown(self) -> str:
        """The publisher URL with its password replaced by ``***``, for logs and messages."""
        return redacted(self.publisher_url)

    def warnings(self) -> list[str]:
        """Settings that work but expose something, one sentence each."""
        parts = urlsplit(self.publisher_url)
        found = []
        if parts.scheme == "http" and (parts.hostname or "") not in _LOOPBACK:
            if self.webhook_secret is not None:
                found.append(
                    "webhooks are signed but sent over plain http://: anyone on the path can "
                    "read and replay them; use https://"
                )
            if parts.password:
                found.append("the webhook URL's password travels over plain http://; use https://")
        return found


def flag_of(field: str) -> str:
    """The command-line flag of a setting (``--source-option`` is given once per option)."""
    return "--source-option" if field == "source_options" else "--" + field.replace("_", "-")


class SettingsError(Exception):
    """Settings are invalid; the message names each bad setting and how to fix it."""


def load_settings(overrides: Mapping[str, Any]) -> RelaySettings:
    """Read the environment, apply flag ``overrides`` (None values are ignored) and validate.

    Raises:
        SettingsError: With one line per bad setting.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return RelaySettings(**given)
    except ValidationError as error:
        raise SettingsError(_explain(error)) from None


def _explain(error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else "backoff_max"
        message = str(problem["msg"]).removeprefix("Value error, ")
        if problem["type"] == "missing":
            message = "is required"
        env = f"EVENTHEX_RELAY_{field.upper()}"
        flag = flag_of(field)
        lines.append(f"invalid setting {env} ({flag}): {message}; fix: {_FIXES.get(field, '')}")
    return "\n".join(lines)
