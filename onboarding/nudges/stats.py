"""Lift per rule: next-step conversion of nudged vs held-out subjects, judged as an
experiment (:mod:`onboarding.experiments`: sequential by default, with a split check)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Exists, ExpressionWrapper, OuterRef, Q
from django.db.models import DateTimeField as DateTimeOutput
from django.utils.translation import gettext as _

from onboarding.conf import onboarding_settings
from onboarding.experiments import (
    Arm,
    Design,
    DifferenceTest,
    Method,
    MetricResult,
    SampleRatio,
    analyze,
    wording,
)
from onboarding.models import StepState
from onboarding.nudges.models import DeliveryStatus, NudgeDelivery, NudgeRule

CONVERTED = "converted"


@dataclass(frozen=True)
class Lift:
    """Nudged vs held-out conversion to the nudged step.

    ``assigned`` counts every delivery not held out (sent, failed, still pending): the
    group the holdout was drawn against, so the test compares it with ``held_out``
    (intention to treat); ``sent`` is the part actually sent. ``p_value`` is the
    test's (``None`` when a group is empty); ``sample_ratio`` checks the held-out
    share against the rule's ``holdout``.
    """

    sent: int
    sent_converted: int
    held_out: int
    held_out_converted: int
    p_value: float | None
    assigned: int = 0
    assigned_converted: int = 0
    holdout: float = 0.0
    step_key: str = ""
    result: MetricResult | None = None
    sample_ratio: SampleRatio | None = None

    @property
    def test(self) -> DifferenceTest | None:
        return self.result.test if self.result else None

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

    @property
    def trustworthy(self) -> bool:
        return self.sample_ratio is None or not self.sample_ratio.mismatch

    @property
    def verdict(self) -> str:
        if self.result is None:
            return _("No holdout to compare with.")
        return wording.verdict(
            self.result,
            metric_title=self.step_key or _("the nudged step"),
            trustworthy=self.trustworthy,
        )


def two_proportion_p_value(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test (fixed horizon)."""
    if not n1 or not n2:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance == 0:
        return None
    z = (x1 / n1 - x2 / n2) / math.sqrt(variance)
    return math.erfc(abs(z) / math.sqrt(2))


def judge(
    counts: dict[str, int], holdout: float, *, method: Method | None = None
) -> tuple[MetricResult | None, SampleRatio | None]:
    """The nudged group against the held-out one; no test without a holdout share."""
    settings = onboarding_settings
    if not 0 < holdout < 1:
        return None, None
    # The groups' names are what the verdict says: translated here.
    held, nudged = _("held out"), _("nudged")
    analysis = analyze(
        [
            Arm(held, holdout, counts["held_out"], {CONVERTED: counts["held_out_converted"]}),
            Arm(nudged, 1 - holdout, counts["assigned"], {CONVERTED: counts["assigned_converted"]}),
        ],
        Design(
            control=held,
            primary=CONVERTED,
            method=method or settings.EXPERIMENT_TEST,
            alpha=settings.EXPERIMENT_ALPHA,
            power=settings.EXPERIMENT_POWER,
            tuning=settings.EXPERIMENT_TUNING_SUBJECTS,
            effect=settings.EXPERIMENT_MINIMUM_EFFECT,
            srm_threshold=settings.EXPERIMENT_SRM_P,
        ),
    )
    (result,) = analysis.primary
    return result, analysis.sample_ratio


def rule_lift(
    rule_id: int, *, window_days: int | None = None, method: Method | None = None
) -> Lift:
    """Lift of one rule, in one aggregate query (and one for its holdout share).

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
            assigned=Count("pk", filter=~held),
            assigned_converted=Count("pk", filter=~held & Q(converted=True)),
        )
    )
    holdout, step_key = NudgeRule.objects.filter(pk=rule_id).values_list(
        "holdout", "step_key"
    ).first() or (0.0, "")
    result, split = judge(counts, holdout or 0.0, method=method)
    return Lift(
        **counts,
        p_value=result.test.p_value if result and result.test else None,
        holdout=holdout or 0.0,
        step_key=step_key,
        result=result,
        sample_ratio=split,
    )


__all__ = ["Lift", "judge", "rule_lift", "two_proportion_p_value"]
