"""System checks of the Celery setup the app's tasks run under (``onboarding.W001`` ...)."""

from __future__ import annotations

from dataclasses import dataclass
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
SQS_DEFAULT_VISIBILITY_TIMEOUT = 1800  # kombu's SQS transport


def celery_app() -> Celery:
    """The current Celery app itself (not the ``current_app`` proxy)."""
    from celery.app import app_or_default

    return app_or_default()


def _scheme(app: Celery) -> str:
    url = app.conf.broker_write_url or app.conf.broker_url or ""
    return str(url).split("://", 1)[0].split("+", 1)[0].lower()


def visibility_timeout(app: Celery) -> float | None:
    """Seconds after which the broker redelivers an unacknowledged message, if it does."""
    scheme = _scheme(app)
    if scheme not in VISIBILITY_TRANSPORTS:
        return None
    options = app.conf.broker_transport_options or {}
    default = SQS_DEFAULT_VISIBILITY_TIMEOUT if scheme == "sqs" else DEFAULT_VISIBILITY_TIMEOUT
    return float(options.get("visibility_timeout", default))


@dataclass(frozen=True)
class Redelivery:
    """The longest wait before a lost worker's unacknowledged messages run again.

    On Redis a live worker looks for messages unacknowledged for ``visibility_timeout``
    every ``sweep_period`` seconds, under a lock that a worker killed while holding it
    leaves for ``lock_expiry`` seconds (then a period more to notice); SQS redelivers
    by itself.
    """

    visibility_timeout: float
    sweep_period: float = 0
    lock_expiry: float = 0

    @property
    def bound(self) -> float:
        return self.visibility_timeout + self.lock_expiry + 2 * self.sweep_period


def redelivery(app: Celery) -> Redelivery | None:
    """How late the broker gives a dead worker's messages back; None: at once (AMQP)."""
    timeout = visibility_timeout(app)
    if timeout is None:
        return None
    if _scheme(app) == "sqs":
        return Redelivery(visibility_timeout=timeout)
    from kombu.transport.redis import Channel

    options = app.conf.broker_transport_options or {}
    # kombu before 5.7 has neither option and sweeps every 10 calls of 10 s.
    interval = float(options.get("unacked_restore_interval", 10))
    throttle = float(options.get("unacked_restore_throttle", 10))
    if not hasattr(Channel, "unacked_restore_throttle"):
        interval, throttle = 10, 10
    return Redelivery(
        visibility_timeout=timeout,
        sweep_period=max(interval, 1) * max(throttle, 1),
        lock_expiry=float(options.get("unacked_mutex_expire", Channel.unacked_mutex_expire)),
    )


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
    warnings += _check_ingest_redelivery(app)
    return warnings


def _check_ingest_redelivery(app: Celery) -> list[Warning]:
    if not onboarding_settings.ASYNC_INGESTION:
        return []
    late = redelivery(app)
    limit = onboarding_settings.INGEST_REDELIVERY_MAX_SECONDS
    if late is None or late.bound <= limit:
        return []
    return [
        Warning(
            f"ASYNC_INGESTION is on and the broker gives the batches of a lost worker "
            f"(killed, out of memory, a lost node) back after up to {late.bound:g} s "
            f"(visibility timeout {late.visibility_timeout:g} s, restore lock "
            f"{late.lock_expiry:g} s, restore sweep every {late.sweep_period:g} s): "
            f"above ONBOARDING['INGEST_REDELIVERY_MAX_SECONDS'] ({limit:g} s).",
            hint='Set CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600, '
            '"unacked_mutex_expire": 30, "unacked_restore_interval": 10, '
            '"unacked_restore_throttle": 1} and CELERY_WORKER_PREFETCH_MULTIPLIER = 1 '
            '(docs/scaling.md, "Lost workers"), or raise the setting.',
            id="onboarding.W030",
        )
    ]
