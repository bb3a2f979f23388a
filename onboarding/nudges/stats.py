"""Lift per rule: next-step conversion of sent vs held-out subjects, with a p-value."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Exists, ExpressionWrapper, OuterRef, Q
from django.db.models import DateTimeField as DateTimeOutput

from onboarding.conf import onboarding_settings
from onboarding.models import StepState
from onboarding.nudges.models import DeliveryStatus, NudgeDelivery


@dataclass(frozen=True)
class Lift:
    """Sent vs held-out conversion to the nudged step; ``p_value`` is ``None`` when a
    group is empty or nobody (or everybody) converted in both."""

    sent: int
    sent_converted: int
    held_out: int
    held_out_converted: int
    p_value: float | None

    @property
    def sent_rate(self) -> float | None:
        return self.sent_converted / self.sent if self.sent else None

    @property
    def held_out_rate(self) -> float | None:
        return self.held_out_converted / self.held_out if self.held_out else None

    @property
    def difference(self) -> float | None:
        if self.sent_rate is None or self.held_out_rate is None:
            return None
        return self.sent_rate - self.held_out_rate


def two_proportion_p_value(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test."""
    if not n1 or not n2:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance == 0:
        return None
    z = (x1 / n1 - x2 / n2) / math.sqrt(variance)
    return math.erfc(abs(z) / math.sqrt(2))


def rule_lift(rule_id: int, *, window_days: int | None = None) -> Lift:
    """Lift of one rule, in one aggregate query.

    A delivery converts when its step is completed after the nudge was due and within
    ``window_days`` (``NUDGE_LIFT_WINDOW_DAYS``). Deliveries with no step are left out.
    """
    days = window_days or onboarding_settings.NUDGE_LIFT_WINDOW_DAYS
    until = ExpressionWrapper(
        OuterRef("created_at") + timedelta(days=days), output_field=DateTimeOutput()
    )
    converted = Exists(
        StepState.objects.filter(
            progress=OuterRef("progress"),
            step_key=OuterRef("step_key"),
            completed_at__gt=OuterRef("created_at"),
            completed_at__lte=until,
        )
    )
    sent = Q(status=DeliveryStatus.SENT)
    held = Q(status=DeliveryStatus.HELD_OUT)
    counts = (
        NudgeDelivery.objects.filter(rule_id=rule_id)
        .exclude(step_key="")
        .annotate(converted=converted)
        .aggregate(
            sent=Count("pk", filter=sent),
            sent_converted=Count("pk", filter=sent & Q(converted=True)),
            held_out=Count("pk", filter=held),
            held_out_converted=Count("pk", filter=held & Q(converted=True)),
        )
    )
    return Lift(
        **counts,
        p_value=two_proportion_p_value(
            counts["sent_converted"],
            counts["sent"],
            counts["held_out_converted"],
            counts["held_out"],
        ),
    )


__all__ = ["Lift", "rule_lift", "two_proportion_p_value"]
