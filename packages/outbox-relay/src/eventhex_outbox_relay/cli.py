"""``eventhex-relay``: run, drain, inspect and repair an outbox from the command line.

Commands:
    run                  Relay until SIGTERM or SIGINT.
    drain                Relay until no live entry is left, then exit (exit 1 after
                         --drain-timeout seconds without reaching the broker or the outbox).
    status               Print pending, in-flight and dead counts and the oldest entry's age.
    dead-letters list    Show dead-lettered entries with their last error.
    dead-letters replay  Re-queue dead letters (chosen ids, or --all).
    dead-letters purge   Delete dead letters for good (chosen ids, or --all).

Every setting is a flag and an ``EVENTHEX_RELAY_*`` environment variable; flags win. Exit codes:
0 done, 1 runtime failure, 2 invalid settings or usage.

Like gunicorn and celery, the relay runs from the project's folder: the working directory comes
first on ``sys.path``, so ``DJANGO_SETTINGS_MODULE=mysite.settings`` imports without PYTHONPATH.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

from dependency_injector import providers

from eventhex_core_ports._internal.logs import configure_logging
from eventhex_core_ports._internal.terminal import printable
from eventhex_core_ports.ports.relay import OutboxSource, OutboxSourceUnusable
from eventhex_outbox_relay._inspect import dead_letters, status
from eventhex_outbox_relay._output import progress
from eventhex_outbox_relay.container import RelayContainer
from eventhex_outbox_relay.operations import OperationsServer
from eventhex_outbox_relay.relay import DrainGaveUp, Relay
from eventhex_outbox_relay.settings import RelaySettings, SettingsError, load_settings
from eventhex_outbox_relay.sources import SourceError, SourceStartFailed

__all__ = ["main"]

logger = logging.getLogger("eventhex.relay")

_RELAY_FLAGS: list[tuple[str, type, str]] = [
    ("publisher", str, "publisher URL (stdout:, null:, redis://, amqp://, nats://, kafka://, …)"),
    ("envelope", str, "message format: eventhex (default) or cloudevents"),
    ("batch_size", int, "entries claimed per round trip (default 500)"),
    ("lease_seconds", float, "claim lease in seconds (default 30)"),
    ("poll_interval", float, "longest wait between claims when idle, seconds (default 1)"),
    ("backoff_base", float, "first retry delay bound, seconds (default 1)"),
    ("backoff_max", float, "retry delay cap, seconds (default 300)"),
    ("owner", str, "this relay's id in claims (default host:pid:random)"),
    ("http_host", str, "operations port interface (default 127.0.0.1)"),
    ("http_port", int, "serve /healthz and /metrics on this port"),
    ("publish_timeout", float, "broker/webhook answer timeout, seconds (default 10)"),
    ("webhook_secret", str, "HMAC-SHA256 key for webhook signatures"),
]


def _count(text: str) -> int:
    """A whole number >= 1, for argparse."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number (give 1 or more)")
    return value


def _entry_id(text: str) -> int:
    """A whole number >= 0, for argparse."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative (give 0 or more)")
    return value


def _add(parser: argparse.ArgumentParser, name: str, kind: type, text: str) -> None:
    parser.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, help=text)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _add(common, "source", str, "outbox source: entry point name (e.g. django) or module:attribute")
    common.add_argument(
        "--source-option",
        dest="source_options",
        action="append",
        metavar="KEY=VALUE",
        help="keyword argument of the source's factory, e.g. database=events (repeatable)",
    )
    common.add_argument("--log-level", dest="log_level", help="debug, info, warning or error")
    common.add_argument(
        "--log-format", dest="log_format", help="json, text, or auto (text on a terminal)"
    )
    relay = argparse.ArgumentParser(add_help=False, parents=[common])
    for name, kind, text in _RELAY_FLAGS:
        _add(relay, name, kind, text)

    parser = argparse.ArgumentParser(
        prog="eventhex-relay", description="Publish an eventhex outbox to a message broker."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("run", parents=[relay], help="relay until SIGTERM")
    drain = commands.add_parser("drain", parents=[relay], help="relay until the outbox is empty")
    _add(
        drain,
        "drain_timeout",
        float,
        "give up (exit 1) after this many seconds without reaching the broker or the outbox "
        "(default 60)",
    )
    status = commands.add_parser("status", parents=[common], help="print outbox statistics")
    status.add_argument("--json", action="store_true", help="print one JSON object")

    dead = commands.add_parser("dead-letters", help="inspect, replay or purge dead letters")
    actions = dead.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[common], help="show dead letters")
    listing.add_argument("--limit", type=_count, default=50, help="at most this many (default 50)")
    listing.add_argument("--after", type=_entry_id, default=0, help="only ids greater than this")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    for action, text in (("replay", "re-queue"), ("purge", "delete for good")):
        sub = actions.add_parser(action, parents=[common], help=f"{text} dead letters")
        sub.add_argument("ids", nargs="*", type=_entry_id, help="entry ids")
        sub.add_argument("--all", action="store_true", help="every dead letter")
    return parser


def main(argv: Sequence[str] | None = None, container: RelayContainer | None = None) -> int:
    """Entry point of ``eventhex-relay`` and ``python -m eventhex_outbox_relay``.

    Args:
        argv: Command-line arguments (``sys.argv[1:]`` when omitted).
        container: The composition root to use; tests pass one with overridden providers.

    Returns:
        The process exit code.
    """
    _project_folder_on_path()
    container = container or RelayContainer()
    try:
        args = _parser().parse_args(argv)
    except SystemExit as done:  # usage errors (exit 2) and --help (exit 0), already printed
        return done.code if isinstance(done.code, int) else 2
    stop_requested = threading.Event()
    if args.command in ("run", "drain"):
        # A stop during start-up (Django, the broker client) ends the run cleanly once it begins.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop_requested.set())
    given = {k: v for k, v in vars(args).items() if k in RelaySettings.model_fields}
    try:
        settings = load_settings(given)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    container.settings.override(providers.Object(settings))
    try:
        source: OutboxSource = container.source()
    except SourceStartFailed as error:
        print(f"eventhex-relay {args.command}: {error}", file=sys.stderr)
        return 2
    except SourceError as error:
        print(f"invalid setting EVENTHEX_RELAY_SOURCE (--source): {error}", file=sys.stderr)
        return 2
    try:
        if args.command in ("run", "drain"):
            return _relay(container, settings, drain=args.command == "drain", stop=stop_requested)
        try:
            if args.command == "status":
                return status(source, as_json=args.json)
            return dead_letters(source, args)
        except OutboxSourceUnusable as error:
            print(f"eventhex-relay {args.command}: {printable(str(error))}", file=sys.stderr)
            return 1
        except Exception as error:  # the outbox's database is down or refuses us
            logger.debug("outbox source failed", exc_info=True)
            text = printable(f"{type(error).__name__}: {error}")
            print(f"eventhex-relay {args.command}: cannot read the outbox: {text}", file=sys.stderr)
            return 1
    finally:
        source.close()


def _project_folder_on_path() -> None:
    """Put the working directory first on ``sys.path`` (``python -m`` does it; a console script
    does not), so that the project's settings module imports as it does for ``manage.py``."""
    folder = os.getcwd()
    if not sys.path or sys.path[0] not in ("", folder):
        sys.path.insert(0, folder)


_EXTRAS = {
    "redis": "redis",
    "pika": "rabbitmq",
    "nats": "nats",
    "httpx": "webhook",
    "httpcore": "webhook",
    "confluent_kafka": "kafka",
    "cloudevents": "cloudevents",
    "dateutil": "cloudevents",
    "prometheus_client": "prometheus",
}
"""The package extra that installs each optional client."""


def _missing(setting: str, error: ImportError) -> int:
    module = (error.name or "").partition(".")[0]
    extra = _EXTRAS.get(module, "all")
    print(
        f"invalid setting EVENTHEX_RELAY_{setting.upper()} (--{setting.replace('_', '-')}): "
        f"it needs {module or error}, which is not installed; "
        f"fix: pip install 'eventhex-outbox-relay[{extra}]'",
        file=sys.stderr,
    )
    return 2


def _backlog(relay: Relay) -> int:
    """Entries a drain has ahead of it (0 when the outbox cannot tell: no bar then)."""
    try:
        stats = relay.source.stats()
    except Exception:  # the relay loop reports database trouble itself
        return 0
    return stats.pending + stats.in_flight


def _settled(relay: Relay) -> int:
    return relay.report.published + relay.report.dead_lettered


def _relay(
    container: RelayContainer,
    settings: RelaySettings,
    *,
    drain: bool,
    stop: threading.Event | None = None,
) -> int:
    for warning in settings.warnings():
        logger.warning(warning)
    try:
        publisher = container.publisher()
    except ImportError as error:
        module = (error.name or "").partition(".")[0]
        return _missing("envelope" if _EXTRAS.get(module) == "cloudevents" else "publisher", error)
    except ValueError as error:
        print(f"invalid setting EVENTHEX_RELAY_PUBLISHER (--publisher): {error}", file=sys.stderr)
        return 2
    try:
        metrics = container.metrics()
    except ImportError as error:
        publisher.close()
        return _missing("http_port", error)
    relay: Relay = container.relay()
    logger.info("publishing", extra={"publisher": settings.publisher_shown()})
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: relay.stop())
    if stop is not None and stop.is_set():
        relay.stop()
    server = None
    if settings.http_port is not None:
        stale = max(3 * settings.poll_interval, settings.lease_seconds)
        server = OperationsServer(
            settings.http_host, settings.http_port, metrics, lambda: relay.last_beat, stale
        )
        server.start()
        logger.info("operations port open", extra={"port": server.port})
    try:
        if drain:
            with progress(_backlog(relay), lambda: _settled(relay), "draining"):
                report = relay.run(drain=True, give_up_after=settings.drain_timeout)
        else:
            report = relay.run()
    except OutboxSourceUnusable as error:
        command = "drain" if drain else "run"
        print(f"eventhex-relay {command}: stopped: {printable(str(error))}", file=sys.stderr)
        return 1
    except DrainGaveUp as error:
        print(
            f"eventhex-relay drain: {printable(str(error)).rstrip('.')}; the entries stay in "
            "the outbox (to wait longer: --drain-timeout or EVENTHEX_RELAY_DRAIN_TIMEOUT)",
            file=sys.stderr,
        )
        return 1
    finally:
        publisher.close()
        if server is not None:
            server.stop()
    print(f"eventhex-relay {'drain' if drain else 'run'}: {report.summary()}", file=sys.stderr)
    return 0
