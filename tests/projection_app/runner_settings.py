"""Settings of runner processes started by the tests: one PostgreSQL database as ``default``.

``EVENTHEX_TEST_RUNNER_DATABASE`` holds the database as JSON (``NAME``, ``HOST``, ``PORT``,
``USER``); ``EVENTHEX_TEST_RUNNER_PROJECTIONS`` optionally a comma-separated list of dotted
paths, and ``EVENTHEX_TEST_HANDLE_DELAY`` a delay per handled event.
"""

import json
import os

from tests.django_adapter.settings import *  # noqa: F403
from tests.projection_app import REGISTERED

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "PASSWORD": "",
        # Lets a test find this process's open transactions in pg_stat_activity.
        "OPTIONS": {"application_name": f"eventhex-runner-{os.getpid()}"},
        **json.loads(os.environ["EVENTHEX_TEST_RUNNER_DATABASE"]),
    }
}
EVENTHEX_TEST_HANDLE_DELAY = float(os.environ.get("EVENTHEX_TEST_HANDLE_DELAY", "0"))
"""Seconds each recording handler sleeps, so that a runner spends its time inside batches."""
EVENTHEX_PROJECTIONS = [
    path for path in os.environ.get("EVENTHEX_TEST_RUNNER_PROJECTIONS", "").split(",") if path
] or REGISTERED
