"""eventhex's log formatter, for a Django project's ``LOGGING``.

The relay and eventhex's management commands render their records with it (``--log-format``):
one JSON object per line in production, readable coloured lines on a terminal. Use it for your
own handlers too::

    LOGGING = {
        "version": 1,
        "formatters": {"eventhex": {"()": "eventhex_django_adapter.logs.formatter", "fmt": "json"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "eventhex"}},
        "loggers": {"eventhex_django_adapter": {"handlers": ["stderr"], "level": "INFO"}},
    }
"""

from eventhex_core_ports._internal.logs import LogFormat, formatter

__all__ = ["LogFormat", "formatter"]
