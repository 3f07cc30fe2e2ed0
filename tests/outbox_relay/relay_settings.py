"""Django settings of relay subprocesses: the eventhex app on the database the test names.

``RELAY_TEST_DB_ENGINE`` (``postgresql`` or ``sqlite3``), ``RELAY_TEST_DB_NAME`` and for
PostgreSQL ``RELAY_TEST_DB_HOST``, ``RELAY_TEST_DB_PORT`` and ``RELAY_TEST_DB_USER``.
"""

import os

SECRET_KEY = "eventhex-relay-tests-not-secret"
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = ["eventhex_django_adapter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {
    "default": {
        "ENGINE": f"django.db.backends.{os.environ.get('RELAY_TEST_DB_ENGINE', 'postgresql')}",
        "NAME": os.environ.get("RELAY_TEST_DB_NAME", "test_eventhex"),
        "HOST": os.environ.get("RELAY_TEST_DB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("RELAY_TEST_DB_PORT", ""),
        "USER": os.environ.get("RELAY_TEST_DB_USER", "postgres"),
    }
}
