"""Production checks (``manage.py check --deploy``): settings that work in development
but quietly break a feature once the site runs on several processes (``onboarding.W003`` ...).

They are registered with ``deploy=True``, as Django's own security checks, so that
development and test runs (where a local-memory cache and console e-mail are right)
stay quiet.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Warning, register

from onboarding.conf import onboarding_settings
from onboarding.nudges.rules import rule_registry

# Cache backends whose counts are not shared between processes (or not kept at all).
UNSHARED_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache": "per process",
    "django.core.cache.backends.dummy.DummyCache": "never",
}
# Cache backends whose add is a look then a write, so no count in them is atomic.
UNATOMIC_CACHES = {"django.core.cache.backends.filebased.FileBasedCache"}
# E-mail backends that do not deliver anything to anybody.
UNDELIVERED_EMAIL = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
}


def _throttles_on() -> bool:
    rates = onboarding_settings.API_THROTTLE_RATES or {}
    return any(rate for rate in rates.values())


@register("onboarding", deploy=True)
def check_deploy(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    warnings: list[Warning] = []
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if _throttles_on() and backend in UNSHARED_CACHES:
        warnings.append(
            Warning(
                f"The API throttles count requests in the default cache ({backend}), "
                f"which keeps the counts {UNSHARED_CACHES[backend]}: with several "
                "processes a subject or API key gets more than "
                "ONBOARDING['API_THROTTLE_RATES'] allows.",
                hint="Use a shared cache (Redis, Memcached or the database) as "
                "CACHES['default'], or set the rates to None to turn throttling off.",
                id="onboarding.W003",
            )
        )
    if _throttles_on() and backend in UNATOMIC_CACHES:
        warnings.append(
            Warning(
                f"The API throttles count requests in the default cache ({backend}), "
                "which adds and increments keys by reading then writing files: requests "
                "arriving at once can pass ONBOARDING['API_THROTTLE_RATES'].",
                hint="Use Redis, Memcached or the database cache as CACHES['default'] "
                "(they count atomically), or set the rates to None.",
                id="onboarding.W050",
            )
        )
    if not rule_registry.all():
        return warnings  # no nudge e-mails: the e-mail settings do not matter here
    if settings.EMAIL_BACKEND in UNDELIVERED_EMAIL:
        warnings.append(
            Warning(
                f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}: nudges are recorded as sent "
                "but reach nobody.",
                hint="Configure an SMTP (or provider) e-mail backend for production.",
                id="onboarding.W004",
            )
        )
    if not onboarding_settings.NUDGE_BASE_URL:
        warnings.append(
            Warning(
                "ONBOARDING['NUDGE_BASE_URL'] is empty: the unsubscribe link in nudge "
                "e-mails is a bare path that mail clients cannot open.",
                hint='Set it to the site\'s scheme and host, e.g. "https://app.example.com".',
                id="onboarding.W005",
            )
        )
    return warnings
