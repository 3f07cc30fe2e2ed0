"""Django settings for the eventhex test suite.

Two databases: ``default`` is SQLite (a file, so that several processes can share it) and
``postgres`` is the PostgreSQL server the test session starts (``pgbouncer`` reaches it through
PgBouncer, in worker threads of the PgBouncer tests). ``tests/conftest.py`` fills in the
SQLite file path and the PostgreSQL host and port when the session starts.
"""

SECRET_KEY = "eventhex-tests-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "eventhex_django_adapter",
    "eventhex_django_adapter.projections",
    "eventhex_django_adapter.contrib.upstream_import",
    "tests.projection_app",
]

# The projection tests' read models (tests/projection_app); tests override the setting.
EVENTHEX_PROJECTIONS: list[str] = []

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": "eventhex-tests.sqlite3",
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30},
        "TEST": {"NAME": None},
    },
    "postgres": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "eventhex",
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": "127.0.0.1",
        "PORT": "",
        "TEST": {"NAME": "test_eventhex", "DEPENDENCIES": []},
    },
    # The same test database through PgBouncer, for worker threads of
    # tests/django_adapter/test_pgbouncer.py (its fixture fills in the address; the main
    # thread's connection mirrors ``postgres``).
    "pgbouncer": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "test_eventhex",
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": "127.0.0.1",
        "PORT": "",
        "TEST": {"MIRROR": "postgres"},
    },
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.django_adapter.urls"
STATIC_URL = "static/"  # the live server of the admin browser tests serves the admin's CSS
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# Fast hashing for the admin tests' users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
