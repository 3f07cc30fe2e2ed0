"""``manage.py eventhex_projections run|status|rebuild|parked``: operate the projections."""

import json
import signal
import threading
from typing import Any, TextIO, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser

from eventhex_django_adapter._codec import format_position
from eventhex_django_adapter.projections import _commands


class Command(BaseCommand):
    """Run the projection daemon, show status, rebuild a projection, handle parked events."""

    help = (
        "Operate the projections listed in settings.EVENTHEX_PROJECTIONS: "
        "run [NAME ...] | status [--json] | rebuild NAME | parked list|retry|skip"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        run = actions.add_parser("run", help="the daemon: keep the projections current")
        run.add_argument("names", nargs="*", metavar="NAME", help="only these projections")
        run.add_argument(
            "--claim-interval",
            type=float,
            default=0.5,
            help="seconds between two looks for projections to take over (0.5)",
        )
        run.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")
        run.add_argument("--metrics-address", default="127.0.0.1", help="(127.0.0.1)")
        run.add_argument(
            "--log-format",
            choices=["auto", "json", "text"],
            default="auto",
            help="logs on standard error: JSON lines, readable text, or auto (text on a "
            "terminal, JSON otherwise; the default)",
        )
        run.add_argument("--log-level", default="info")

        status = actions.add_parser(
            "status",
            help="position, lag, owner, state, parked; exits 2 when a projection is failing or "
            "stopped, 3 when one has no runner",
        )
        status.add_argument("--json", action="store_true", help="one JSON document")

        rebuild = actions.add_parser("rebuild", help="reset one projection and replay it")
        rebuild.add_argument("name", metavar="NAME")
        rebuild.add_argument("--plain", action="store_true", help="progress lines, no bar")

        parked = actions.add_parser("parked", help="events whose handler kept failing")
        what = parked.add_subparsers(dest="parked_action", required=True)
        listing = what.add_parser("list", help="parked events waiting for a decision")
        listing.add_argument("--projection", metavar="NAME")
        listing.add_argument("--json", action="store_true")
        for verb, text in (("retry", "apply again"), ("skip", "leave out for good")):
            act = what.add_parser(verb, help=f"{text}: the given ids, or --all of a projection")
            act.add_argument("ids", nargs="*", type=int, metavar="ID")
            act.add_argument("--projection", metavar="NAME")
            act.add_argument("--all", action="store_true", help="every parked event")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "run":
            self._run(options)
        elif action == "status":
            self._status(options)
        elif action == "rebuild":
            self._rebuild(options)
        else:
            self._parked(options)

    def _run(self, options: dict[str, Any]) -> None:
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        _commands.run(
            options["names"],
            stop,
            claim_interval=options["claim_interval"],
            metrics_port=options["metrics_port"],
            metrics_address=options["metrics_address"],
            log_format=options["log_format"],
            log_level=options["log_level"],
        )

    def _status(self, options: dict[str, Any]) -> None:
        statuses = _commands.statuses()
        if options["json"]:
            self.stdout.write(json.dumps([s.as_json() for s in statuses], indent=2))
        else:
            self.stdout.write(_commands.status_table(statuses))
        error = _commands.status_exit(statuses)
        if error is not None:
            raise error

    def _rebuild(self, options: dict[str, Any]) -> None:
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        out = cast(TextIO, self.stdout)
        result = _commands.rebuild(options["name"], stop, out, options["plain"])
        self.stdout.write(
            f"rebuild {options['name']}: {result.applied:,} events replayed, "
            f"position {format_position(result.position)}, state {result.state}"
        )
        if not result.finished:
            raise CommandError(
                f"rebuild of {options['name']} did not finish (state {result.state}); "
                "a runner carries it on from its checkpoint"
            )

    def _parked(self, options: dict[str, Any]) -> None:
        verb = options["parked_action"]
        if verb == "list":
            rows = _commands.parked_rows(options["projection"])
            if options["json"]:
                self.stdout.write(json.dumps(rows, indent=2, default=str))
            else:
                self.stdout.write(_commands.parked_table(rows))
            return
        if not options["ids"] and not options["all"]:
            raise CommandError(f"parked {verb}: give parked event ids, or --all")
        outcomes = _commands.act_on_parked(
            verb, options["ids"], options["projection"], options["all"]
        )
        failed = 0
        for outcome in outcomes:
            self.stdout.write(_commands.outcome_line(outcome))
            failed += not outcome.ok
        if failed:
            raise CommandError(f"{failed} of {len(outcomes)} parked events stay parked")
