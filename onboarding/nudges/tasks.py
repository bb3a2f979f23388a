"""Celery tasks: thin wrappers over the evaluator and the sender.

Schedule the evaluation with beat, e.g. ``CELERY_BEAT_SCHEDULE = {"onboarding-nudges":
{"task": "onboarding.nudges.evaluate", "schedule": 3600}}``.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval

from onboarding.conf import onboarding_settings
from onboarding.nudges.delivery import SendFailed, mark_failed, schedule_retry, send_delivery
from onboarding.nudges.evaluate import evaluate

BEAT_SCHEDULE = {
    "onboarding-nudges": {"task": "onboarding.nudges.evaluate", "schedule": 60 * 60},
}


@shared_task(name="onboarding.nudges.evaluate", ignore_result=False)
def evaluate_nudges(keys: list[str] | None = None) -> list[dict[str, Any]]:
    """Evaluate the declared rules (or ``keys``); returns one report per rule."""
    return [report.as_dict() for report in evaluate(keys)]


@shared_task(bind=True, name="onboarding.nudges.send", acks_late=True)
def send_nudge(self: Any, delivery_id: int) -> str:
    """Send one claimed nudge; a failing send is retried with exponential backoff."""
    try:
        return send_delivery(delivery_id)
    except SendFailed as error:
        retries = self.request.retries
        if retries >= onboarding_settings.NUDGE_SEND_MAX_RETRIES:
            mark_failed(delivery_id)
            raise
        countdown = get_exponential_backoff_interval(
            factor=onboarding_settings.NUDGE_RETRY_BACKOFF_SECONDS,
            retries=retries,
            maximum=onboarding_settings.NUDGE_RETRY_BACKOFF_MAX_SECONDS,
            full_jitter=False,
        )
        schedule_retry(delivery_id, countdown)
        # max_retries passed on: Celery's own default (3) would stop before the setting.
        raise self.retry(
            exc=error,
            countdown=countdown,
            max_retries=onboarding_settings.NUDGE_SEND_MAX_RETRIES,
        ) from error
