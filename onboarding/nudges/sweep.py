"""Nudge sends whose task was lost: the sweeper queues pending ones again; staff retry
the ones stuck in ``sending``.

A claim stays ``pending`` without a task when the worker died between the claim's
commit and the publish, or the broker was down. ``sending`` rows are never sent again
by themselves (the e-mail may have gone out before the worker died: at most once).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from onboarding.conf import onboarding_settings
from onboarding.nudges.models import DeliveryStatus, NudgeDelivery
from onboarding.sweeper import SweepResult

logger = logging.getLogger("onboarding.nudges")

# Rows queued per UPDATE: a sweep after a long outage stays a few bounded statements.
CHUNK = 500
RETRYABLE = (DeliveryStatus.SENDING, DeliveryStatus.FAILED)


def overdue(now: datetime | None = None) -> QuerySet[NudgeDelivery]:
    """Pending rows whose attempt was due more than NUDGE_SWEEP_AFTER_SECONDS ago."""
    return NudgeDelivery.objects.filter(status=DeliveryStatus.PENDING, attempt_at__lt=_cutoff(now))


def stuck_sending(now: datetime | None = None) -> QuerySet[NudgeDelivery]:
    """Rows whose send started more than NUDGE_SWEEP_AFTER_SECONDS ago and never ended."""
    return NudgeDelivery.objects.filter(status=DeliveryStatus.SENDING, attempt_at__lt=_cutoff(now))


def _cutoff(now: datetime | None) -> datetime:
    seconds = onboarding_settings.NUDGE_SWEEP_AFTER_SECONDS
    return (now or timezone.now()) - timedelta(seconds=seconds)


def _queue(ids: list[int]) -> None:
    from onboarding.nudges.evaluate import enqueue_send

    for pk in ids:
        enqueue_send(pk)


def requeue_lost_sends(now: datetime) -> SweepResult:
    """The "nudges" sweepable: queue each overdue pending row's send again.

    Rows are taken with ``SKIP LOCKED`` (two sweeps queue each row once) and published
    inside the transaction: a publish that fails (the broker is still down) rolls the
    chunk back for the next sweep. A send queued twice still sends once.
    """
    requeued = 0
    while True:
        with transaction.atomic():
            rows = overdue(now).select_for_update(skip_locked=True).order_by("pk")
            ids = list(rows.values_list("pk", flat=True)[:CHUNK])
            if not ids:
                break
            NudgeDelivery.objects.filter(pk__in=ids).update(attempt_at=max(now, timezone.now()))
            _queue(ids)
        requeued += len(ids)
    return SweepResult(requeued=requeued, needs_attention=stuck_sending(now).count())


@dataclass(frozen=True)
class Retried:
    """Deliveries put back to pending by staff; ``error``: their publish failed."""

    ids: list[int]
    error: str = ""


def retry_deliveries(ids: list[int]) -> Retried:
    """Staff's "send again": rows sending or failed go back to pending and are queued.

    A row stuck in ``sending`` may have been sent already: retrying it is the staff
    member's decision. When the broker cannot be reached the rows stay pending and the
    sweeper queues them once they are overdue.
    """
    chosen = list(
        NudgeDelivery.objects.filter(pk__in=ids, status__in=RETRYABLE).values_list("pk", flat=True)
    )
    NudgeDelivery.objects.filter(pk__in=chosen, status__in=RETRYABLE).update(
        status=DeliveryStatus.PENDING, attempt_at=timezone.now()
    )
    try:
        _queue(chosen)
    except Exception as error:  # the broker is down: no 500 for staff, the sweeper follows
        logger.warning("Nudge deliveries %s not queued: %s", chosen, error)
        return Retried(ids=chosen, error=f"{type(error).__name__}: {error}")
    return Retried(ids=chosen)


__all__ = ["Retried", "overdue", "requeue_lost_sends", "retry_deliveries", "stuck_sending"]
