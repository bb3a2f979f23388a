"""The demo as it would run in production: ``DJANGO_SETTINGS_MODULE=demo.settings_production``.

Everything secret or site-specific comes from the environment, and every service is a
real one: PostgreSQL (``DATABASE_URL``), Redis as the cache the API throttles count in
and as Celery's broker (``REDIS_URL``), SMTP for nudges. ``manage.py check --deploy``
passes without a warning (tests/test_deploy_checks.py holds it to that).
"""

import os

from demo.settings import *  # noqa: F403

DEBUG = False
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "bingo.example.com").split(",")

# HTTPS only, behind a proxy that terminates TLS and sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

STATIC_ROOT = BASE_DIR / "staticfiles"  # noqa: F405

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# Shared by every web process, so the API throttles count per subject, not per process.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = False

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "bingo@example.com")

ONBOARDING = {
    **ONBOARDING,  # noqa: F405
    "NUDGE_BASE_URL": os.environ.get("SITE_URL", "https://bingo.example.com"),
    "API_CORS_ORIGINS": [
        origin for origin in os.environ.get("ONBOARDING_CORS_ORIGINS", "").split(",") if origin
    ],
}
