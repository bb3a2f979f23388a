"""The ingestion task: acknowledged late, requeued when its worker dies, retried with backoff.

``acks_late`` keeps the message in the broker until the batch is stored;
``reject_on_worker_lost`` puts it back at once when the pool process running it is
killed (without it the message would be acknowledged as failed). Both are safe only
because storing is idempotent by event id.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.db import DatabaseError

from onboarding.conf import onboarding_settings
from onboarding.ingest.payload import PackedEvent
from onboarding.ingest.store import store_packed

logger = logging.getLogger("onboarding.ingest")

TASK_NAME = "onboarding.ingest.store_batch"


def retry_countdown(retries: int) -> int:
    """``min(BACKOFF * 2**retries, BACKOFF_MAX)`` seconds."""
    return int(
        get_exponential_backoff_interval(
            factor=onboarding_settings.INGEST_RETRY_BACKOFF_SECONDS,
            retries=retries,
            maximum=onboarding_settings.INGEST_RETRY_BACKOFF_MAX_SECONDS,
            full_jitter=False,
        )
    )


@shared_task(
    bind=True,
    name=TASK_NAME,
    acks_late=True,
    reject_on_worker_lost=True,
)
def store_batch(self: Any, batch_id: str, events: list[PackedEvent]) -> dict[str, Any]:
    """Store one batch of packed events; returns what was stored."""
    try:
        return store_packed(events, batch_id=batch_id).as_dict()
    except DatabaseError as error:
        retries = self.request.retries
        limit = onboarding_settings.INGEST_MAX_RETRIES
        if retries >= limit:
            # Nothing is dropped silently: the batch is in the log to be replayed.
            logger.error(
                "Batch %s not stored after %d retries: %s; events: %r",
                batch_id,
                retries,
                error,
                events,
            )
            raise
        raise self.retry(
            exc=error, countdown=retry_countdown(retries), max_retries=limit
        ) from error
