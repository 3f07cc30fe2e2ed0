"""Django settings for the upstream suite: eventhex's app on the PostgreSQL the runner started.

The runner passes the server and the ``USE_TZ`` value in environment variables.
"""

import os

SECRET_KEY = "eventhex-upstream-suite-not-secret"
USE_TZ = os.environ.get("EVENTHEX_UPSTREAM_USE_TZ", "0") == "1"
TIME_ZONE = "UTC"
USE_I18N = True
INSTALLED_APPS = ["eventhex_django_adapter"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "eventhex_upstream",
        "USER": os.environ.get("EVENTHEX_UPSTREAM_PG_USER", "postgres"),
        "PASSWORD": "",
        "HOST": os.environ.get("EVENTHEX_UPSTREAM_PG_HOST", "127.0.0.1"),
        "PORT": os.environ.get("EVENTHEX_UPSTREAM_PG_PORT", "5432"),
    },
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
