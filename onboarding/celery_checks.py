"""System checks of the Celery setup the app's tasks run under (``onboarding.W001`` ...)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.checks import Warning, register

from onboarding.conf import DEFAULTS, onboarding_settings

if TYPE_CHECKING:
    from celery import Celery

# Countdowns the app's tasks may wait for (retry backoffs), by setting.
COUNTDOWN_SETTINGS = (
    "NUDGE_RETRY_BACKOFF_MAX_SECONDS",
    "INGEST_RETRY_BACKOFF_MAX_SECONDS",
    "WEBHOOK_RETRY_BACKOFF_MAX_SECONDS",
)
# Transports that redeliver an unacknowledged message after a visibility timeout.
VISIBILITY_TRANSPORTS = {"redis", "rediss", "sentinel", "sqs"}
DEFAULT_VISIBILITY_TIMEOUT = 3600


def celery_app() -> Celery:
    """The current Celery app itself (not the ``current_app`` proxy)."""
    from celery.app import app_or_default

    return app_or_default()


def visibility_timeout(app: Celery) -> float | None:
    """Seconds after which the broker redelivers an unacknowledged message, if it does."""
    url = app.conf.broker_write_url or app.conf.broker_url or ""
    scheme = str(url).split("://", 1)[0].split("+", 1)[0].lower()
    if scheme not in VISIBILITY_TRANSPORTS:
        return None
    options = app.conf.broker_transport_options or {}
    return float(options.get("visibility_timeout", DEFAULT_VISIBILITY_TIMEOUT))


@register("onboarding")
def check_celery(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    app = celery_app()
    warnings: list[Warning] = []
    if app.conf.task_always_eager and not settings.DEBUG:
        warnings.append(
            Warning(
                "Celery runs tasks eagerly (task_always_eager) with DEBUG off: nudges, "
                "webhooks and async ingestion run inside web requests, without retries "
                "in the background.",
                hint="Configure a broker (CELERY_BROKER_URL) and run a worker; keep eager "
                "mode for development and tests.",
                id="onboarding.W001",
            )
        )
    timeout = visibility_timeout(app)
    if timeout is not None:
        for name in COUNTDOWN_SETTINGS:
            if name not in DEFAULTS:
                continue
            value = getattr(onboarding_settings, name)
            if value >= timeout:
                warnings.append(
                    Warning(
                        f"ONBOARDING[{name!r}] is {value:g} s, not shorter than the broker's "
                        f"visibility timeout of {timeout:g} s: a task waiting that long is "
                        "delivered again to another worker and runs twice.",
                        hint="Lower the setting, or raise CELERY_BROKER_TRANSPORT_OPTIONS"
                        '["visibility_timeout"] above it.',
                        id="onboarding.W002",
                    )
                )
    return warnings
