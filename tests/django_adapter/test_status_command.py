"""``manage.py eventhex_status`` in each output mode: ``--json``, piped lines, a terminal table;
and a clean error when the database cannot be read."""

import io
import json
import logging
import logging.config

import pytest
import structlog
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from event_sourcery import StreamId

from eventhex_core_ports.testing.events import ContractItemAdded
from eventhex_django_adapter import DjangoBackend, DjangoConfig

pytestmark = pytest.mark.django_db(databases=["default"])


class TerminalOut(io.StringIO):
    """Standard output as a terminal reports itself."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def one_event() -> None:
    backend = DjangoBackend().configure(DjangoConfig(database="default")).with_outbox()
    backend.event_store.append(ContractItemAdded(item="a"), stream_id=StreamId())


@pytest.mark.usefixtures("one_event")
def test_json_is_one_object() -> None:
    out = io.StringIO()
    call_command("eventhex_status", "--json", stdout=out)
    facts = json.loads(out.getvalue())
    assert (facts["database"], facts["events"], facts["outbox_pending"]) == ("default", 1, 1)
    assert facts["outbox_dead"] == 0


@pytest.mark.usefixtures("one_event")
def test_piped_output_is_plain_lines() -> None:
    out = io.StringIO()
    call_command("eventhex_status", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[:3] == ["database: default", "streams: 1", "events: 1"]
    assert "outbox pending: 1" in lines
    assert "\x1b" not in out.getvalue()


@pytest.mark.usefixtures("one_event")
def test_a_terminal_gets_a_table() -> None:
    out = TerminalOut()
    call_command("eventhex_status", stdout=out)
    text = out.getvalue()
    assert "eventhex store" in text
    assert any(mark in text for mark in ("┃", "│"))
    assert "outbox pending" in text


def test_a_database_without_the_tables_is_a_command_error() -> None:
    """One line naming the database and the error, no traceback."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE eventhex_stream RENAME TO eventhex_stream_gone")
    try:
        with pytest.raises(CommandError, match="cannot read database 'default': OperationalError"):
            call_command("eventhex_status", stdout=io.StringIO())
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE eventhex_stream_gone RENAME TO eventhex_stream")


@pytest.mark.usefixtures("one_event")
def test_logging_is_left_to_the_project_unless_a_format_is_given() -> None:
    logger = logging.getLogger("eventhex_django_adapter")
    before = (logger.handlers[:], logger.propagate, logger.level)
    call_command("eventhex_status", stdout=io.StringIO())
    assert (logger.handlers, logger.propagate, logger.level) == before
    try:
        call_command("eventhex_status", "--log-format", "json", stdout=io.StringIO())
        assert not logger.propagate
        [handler] = logger.handlers
        assert isinstance(handler.formatter, structlog.stdlib.ProcessorFormatter)
    finally:
        logger.handlers[:], logger.propagate = before[0], before[1]
        logger.setLevel(before[2])


def test_the_documented_logging_config_renders_json_lines() -> None:
    """The ``LOGGING`` of ``eventhex_django_adapter.logs`` (and operations.md) works as written."""
    stream = io.StringIO()
    logger = logging.getLogger("eventhex_django_adapter.test_logs")
    before = (logger.handlers[:], logger.propagate, logger.level)
    try:
        logging.config.dictConfig(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "formatters": {
                    "eventhex": {"()": "eventhex_django_adapter.logs.formatter", "fmt": "json"}
                },
                "handlers": {
                    "s": {
                        "class": "logging.StreamHandler",
                        "formatter": "eventhex",
                        "stream": stream,
                    },
                },
                "loggers": {logger.name: {"handlers": ["s"], "level": "INFO", "propagate": False}},
            }
        )
        logger.info("appended", extra={"stream": "orders-7"})
        record = json.loads(stream.getvalue())
        assert (record["message"], record["level"], record["stream"]) == (
            "appended",
            "info",
            "orders-7",
        )
    finally:
        logger.handlers[:], logger.propagate = before[0], before[1]
        logger.setLevel(before[2])
