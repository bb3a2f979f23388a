"""Queueing deliveries without ever failing the caller, and queueing lost ones again.

A delivery's row is committed with its event; its task message may still never reach
a worker (the broker down at commit, a message dropped). Such a row stays ``pending``
past its ``next_attempt_at``; :func:`requeue_stale_deliveries` (the ``webhooks``
sweepable of ``onboarding.sweep``, which beat runs every 5 minutes) queues it again.
Sending twice is allowed (delivery is at least once); losing one is not.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from onboarding.conf import onboarding_settings
from onboarding.sweeper import SweepResult
from onboarding.webhooks.models import WebhookDelivery, WebhookStatus

logger = logging.getLogger("onboarding.webhooks")

#: Rows queued again by one sweep at most; the next sweep takes the rest.
SWEEP_BATCH = 1000


def enqueue(delivery_id: Any) -> bool:
    """Publish the delivery's task; ``False`` (logged) when the broker cannot take it.

    Never raises: it runs after the event's commit, where an error would reach the
    caller of ``track()`` for an event that is stored all the same.
    """
    from onboarding.webhooks.tasks import deliver_webhook

    try:
        deliver_webhook.delay(str(delivery_id))
    except Exception:
        logger.exception(
            "Webhook delivery %s could not be queued; it stays pending and the sweep "
            "(onboarding.sweep) queues it again.",
            delivery_id,
        )
        return False
    return True


def requeue_stale_deliveries(*, older_than: timedelta | None = None) -> int:
    """Queue again the pending deliveries whose attempt was due more than ``older_than``
    (default ``WEBHOOK_REQUEUE_AFTER_SECONDS``) ago; returns how many were queued.

    Stops at the first one the broker refuses: the rest wait for the next sweep.
    """
    if older_than is None:
        older_than = timedelta(seconds=onboarding_settings.WEBHOOK_REQUEUE_AFTER_SECONDS)
    now = timezone.now()
    stale = WebhookDelivery.objects.filter(
        status=WebhookStatus.PENDING, next_attempt_at__lt=now - older_than
    )
    ids = list(stale.order_by("next_attempt_at").values_list("pk", flat=True)[:SWEEP_BATCH])
    queued = 0
    for pk in ids:
        # Claimed by moving its due time: a sweep running at the same time skips it.
        if not stale.filter(pk=pk).update(next_attempt_at=now):
            continue
        if not enqueue(pk):
            break
        queued += 1
    if queued:
        logger.warning("Queued %d stale webhook delivery(ies) again.", queued)
    return queued


def requeue_lost_deliveries(now: datetime) -> SweepResult:
    """The sweeper's entry for webhooks (registered in ``OnboardingConfig.ready``)."""
    return SweepResult(requeued=requeue_stale_deliveries())
