"""The delivery task: retried with exponential backoff, then left ``failed`` in the log."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval

from onboarding.conf import onboarding_settings
from onboarding.webhooks.delivery import DeliveryFailed, deliver, mark_failed


@shared_task(bind=True, name="onboarding.webhooks.deliver", acks_late=True)
def deliver_webhook(self: Any, delivery_id: str) -> str:
    """POST one delivery; a failure is retried ``WEBHOOK_MAX_RETRIES`` times."""
    try:
        return deliver(delivery_id)
    except DeliveryFailed as error:
        retries = self.request.retries
        limit = onboarding_settings.WEBHOOK_MAX_RETRIES
        if retries >= limit:
            mark_failed(delivery_id)
            raise
        countdown = get_exponential_backoff_interval(
            factor=onboarding_settings.WEBHOOK_RETRY_BACKOFF_SECONDS,
            retries=retries,
            maximum=onboarding_settings.WEBHOOK_RETRY_BACKOFF_MAX_SECONDS,
            full_jitter=False,
        )
        raise self.retry(exc=error, countdown=countdown, max_retries=limit) from error
