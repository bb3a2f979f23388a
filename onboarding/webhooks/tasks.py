"""The delivery task: retried with exponential backoff, then left ``failed`` in the log.

``acks_late`` keeps the message in the broker until the attempt is over, and
``reject_on_worker_lost`` puts it back at once when the pool process sending it is
killed (without it the message is acknowledged as failed and the row stays pending).
Sending again is safe: delivery is at least once, and receivers drop a repeated id.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval

from onboarding.conf import onboarding_settings
from onboarding.webhooks.delivery import DeliveryFailed, deliver, mark_failed, schedule_retry


@shared_task(
    bind=True, name="onboarding.webhooks.deliver", acks_late=True, reject_on_worker_lost=True
)
def deliver_webhook(self: Any, delivery_id: str) -> str:
    """POST one delivery; a failure is retried ``WEBHOOK_MAX_RETRIES`` times."""
    try:
        return deliver(delivery_id)
    except DeliveryFailed as error:
        retries = self.request.retries
        limit = onboarding_settings.WEBHOOK_MAX_RETRIES
        if error.final or retries >= limit:
            mark_failed(delivery_id)
            raise
        countdown = get_exponential_backoff_interval(
            factor=onboarding_settings.WEBHOOK_RETRY_BACKOFF_SECONDS,
            retries=retries,
            maximum=onboarding_settings.WEBHOOK_RETRY_BACKOFF_MAX_SECONDS,
            full_jitter=False,
        )
        schedule_retry(delivery_id, countdown)
        raise self.retry(exc=error, countdown=countdown, max_retries=limit) from error
