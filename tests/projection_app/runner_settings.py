"""Settings of runner processes started by the tests: one PostgreSQL database as ``default``.

``EVENTHEX_TEST_RUNNER_DATABASE`` holds the database as JSON (``NAME``, ``HOST``, ``PORT``,
``USER``); ``EVENTHEX_TEST_RUNNER_PROJECTIONS`` optionally a comma-separated list of dotted paths.
"""

import json
import os

from tests.django_adapter.settings import *  # noqa: F403
from tests.projection_app import REGISTERED

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "PASSWORD": "",
        **json.loads(os.environ["EVENTHEX_TEST_RUNNER_DATABASE"]),
    }
}
EVENTHEX_PROJECTIONS = [
    path for path in os.environ.get("EVENTHEX_TEST_RUNNER_PROJECTIONS", "").split(",") if path
] or REGISTERED
