"""Seed the nudge story: logins, nudges sent ten days ago with a holdout, their lift,
red flags and health scores, so that the admin shows all of them.

The nudges go through the real evaluator and e-mail templates (into Django's in-memory
outbox: the seed sends no real e-mail). Afterwards some stalled teachers take the
smart default, more of those nudged than of those held out: the lift the admin shows.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.test import override_settings
from django.utils import timezone

from bingo.onboarding_flows import BINGO
from onboarding.health.score import compute_scores
from onboarding.models import Progress
from onboarding.nudges.delivery import EVENT_NAMESPACE, build_message, recipients
from onboarding.nudges.evaluate import evaluate
from onboarding.nudges.models import DeliveryStatus, Login, NudgeDelivery
from onboarding.tracking import accept_default, track

AS_OF = timedelta(days=10)
# Share of still-stalled teachers who take the default within days of the reminder.
CONVERTS = {DeliveryStatus.SENT: 0.35, DeliveryStatus.HELD_OUT: 0.12}


@dataclass(frozen=True)
class NudgeSummary:
    sent: int
    held_out: int
    converted: int
    segments: dict[str, int]


def _logins() -> None:
    """A login at entry, and another at the last event when that came a day or more later."""
    rows = []
    for progress in Progress.objects.filter(flow__key="bingo").iterator():
        user_id = int(progress.subject_id)
        common = {"user_id": user_id, "subject_type_id": progress.subject_type_id}
        rows.append(Login(subject_id=progress.subject_id, at=progress.entered_at, **common))
        if progress.last_event_at - progress.entered_at >= timedelta(days=1):
            rows.append(Login(subject_id=progress.subject_id, at=progress.last_event_at, **common))
    Login.objects.bulk_create(rows, batch_size=500)


def _send_as_of(at: Any):
    def send(delivery_id: int) -> None:
        delivery = NudgeDelivery.objects.select_related("rule__flow").get(pk=delivery_id)
        subject = delivery.subject
        to = recipients(subject)
        build_message(delivery, subject, to).send()
        NudgeDelivery.objects.filter(pk=delivery_id).update(
            status=DeliveryStatus.SENT, sent_at=at, recipients=to, attempts=1
        )
        track(
            subject,
            delivery.rule.flow.key,
            delivery.step_key,
            kind="nudged",
            occurred_at=at,
            event_id=uuid.uuid5(EVENT_NAMESPACE, str(delivery_id)),
            properties={"rule": delivery.rule.key, "delivery": delivery_id},
            source="nudge",
        )

    return send


def _conversions(rng: random.Random, at: Any) -> int:
    converted = 0
    stalled = NudgeDelivery.objects.filter(
        rule__kind="stalled", status__in=list(CONVERTS)
    ).select_related("progress")
    for delivery in stalled.order_by("pk"):
        done = delivery.progress.step_states.filter(
            step_key=delivery.step_key, completed_at__isnull=False
        ).exists()
        if done or rng.random() >= CONVERTS[delivery.status]:
            continue
        when = at + timedelta(hours=rng.uniform(2, 120))
        # Only teachers past the conversion window are rescued: the A/B story of the
        # funnel (customize 82 % vs 90 % within the window) stays as seeded.
        if when - delivery.progress.entered_at <= timedelta(days=BINGO.effective_window_days()):
            continue
        accept_default(delivery.subject, "bingo", delivery.step_key, occurred_at=when)
        converted += 1
    return converted


def seed_nudges(*, seed: int) -> NudgeSummary:
    """Logins, the nudge rules evaluated ten days ago, conversions since, health scores."""
    now = timezone.now()
    at = now - AS_OF
    _logins()
    # The seed runs in one transaction: queueing waits for its commit, so the claimed
    # nudges are sent here, inline, instead.
    evaluate(now=at, enqueue=lambda delivery_id: None)
    send = _send_as_of(at)
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        pending = NudgeDelivery.objects.filter(status=DeliveryStatus.PENDING).order_by("pk")
        for delivery_id in pending.values_list("pk", flat=True):
            send(delivery_id)
    converted = _conversions(random.Random(seed), at)
    report = compute_scores(now=now)
    counts = {
        status: NudgeDelivery.objects.filter(status=status).count()
        for status in (DeliveryStatus.SENT, DeliveryStatus.HELD_OUT)
    }
    return NudgeSummary(
        sent=counts[DeliveryStatus.SENT],
        held_out=counts[DeliveryStatus.HELD_OUT],
        converted=converted,
        segments=dict(report.segments),
    )
