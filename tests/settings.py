"""Settings for the test suite.

``ONBOARDING_TEST_DATABASE=postgres`` runs it against PostgreSQL
(``ONBOARDING_TEST_POSTGRES_URL``, default the local server); otherwise SQLite.
"""

import os

import dj_database_url

SECRET_KEY = "tests-only"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
POSTGRES_URL = os.environ.get(
    "ONBOARDING_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"
)

if os.environ.get("ONBOARDING_TEST_DATABASE") == "postgres":
    DATABASES = {"default": dj_database_url.parse(POSTGRES_URL)}
    # One test database per run, so parallel runs on one server do not drop each other's.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("ONBOARDING_TEST_DB_NAME", f"test_onboarding_{os.getpid()}")
    }
else:
    # The options docs/scaling.md gives hosts for SQLite (check onboarding.W020), so that
    # the suite runs the write path as they do: locks taken at BEGIN, waited for.
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": ":memory:",
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "onboarding",
    "tests.testapp",
    # The demo's app (demo_project/ is on the pytest pythonpath), for tests/test_demo.py.
    "bingo",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
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
STATIC_URL = "/static/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# drf-spectacular's documented setting; the `spectacular` command (schema test) needs it.
REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}

# Celery, for any app configured from these settings (the demo's too, once imported):
# eager in the pytest process; a worker started by a test sets ONBOARDING_TEST_BROKER_URL.
# Errors do not propagate in eager mode so that ``self.retry`` retries inline.
CELERY_BROKER_URL = os.environ.get("ONBOARDING_TEST_BROKER_URL") or "memory://"
CELERY_TASK_ALWAYS_EAGER = "ONBOARDING_TEST_BROKER_URL" not in os.environ
CELERY_TASK_EAGER_PROPAGATES = False
