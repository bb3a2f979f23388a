"""Settings of the demo project.

Embedded by default: SQLite next to this project and Celery tasks run eagerly, so it
needs no other service. ``DATABASE_URL`` switches to PostgreSQL (or any database
dj-database-url knows) and ``CELERY_BROKER_URL`` to a real broker such as Redis.
"""

import os
from pathlib import Path

import dj_database_url

from onboarding.beat import merge_beat_schedule

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") != "0"
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]

INSTALLED_APPS = [
    # First, so that its templates (registration/login.html) win.
    "bingo",
    "onboarding",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "demo.urls"
WSGI_APPLICATION = "demo.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.config(conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several writers at once (runserver's threads, more processes): a write transaction
    # takes SQLite's lock when it begins and waits up to 20 s for it, rather than failing
    # with "database is locked"; WAL lets reads go on during a write (docs/scaling.md).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        **DATABASES["default"].get("OPTIONS", {}),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "bingo:dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "static/"

# Nudges and alerts are printed, not sent.
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# Without a broker the tasks run inline (eager); with one, workers run them.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://")
CELERY_TASK_ALWAYS_EAGER = "CELERY_BROKER_URL" not in os.environ
# False: with propagation on, an eager task's self.retry() raises to the caller instead
# of retrying (nudge sends and webhooks retry). Async ingestion still raises its errors.
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TIMEZONE = TIME_ZONE
# With a broker, `celery -A demo beat` runs the app's periodic tasks: nudges, health
# scores, conversion alerts, funnel rollups and the sweeper of lost tasks.
CELERY_BEAT_SCHEDULE = merge_beat_schedule()
# Recommended with Redis (docs/scaling.md, "Lost workers"): a worker holds one task per
# pool process, and a killed worker's tasks run again within 650 s instead of an hour.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 600,
    "unacked_mutex_expire": 30,
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}

# The partner page (/embedded/ served by `runserver 8001`) embeds the widget
# cross-origin: it calls the API here with a signed token, CORS allows that origin.
DEMO_API_ORIGIN = os.environ.get("DEMO_API_ORIGIN", "http://localhost:8000")

ONBOARDING = {
    "WINDOW_DAYS": 14,
    "API_CORS_ORIGINS": ["http://localhost:8001", "http://127.0.0.1:8001"],
    # Retries wait less than the visibility timeout above (onboarding.W002).
    "NUDGE_RETRY_BACKOFF_MAX_SECONDS": 540,
    "WEBHOOK_RETRY_BACKOFF_MAX_SECONDS": 540,
}
