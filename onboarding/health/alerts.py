"""Conversion-drop alerts, from Progress and StepState.

A step's conversion over a period is the number of its completions in the period over
the number of subjects who could start it in the period: completions of the previous
required step (ordered flows) or entries (the first step, and any-order flows). The
last ``days`` are compared with the ``days`` before; a fall by more than ``drop`` (a
share of the earlier rate) on at least ``min_subjects`` subjects in each period is an
alert, e-mailed and sent as the ``conversion_dropped`` signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import mail_managers, send_mail
from django.utils import timezone
from django.utils.translation import gettext as _

from onboarding.conf import onboarding_settings
from onboarding.health.signals import conversion_dropped
from onboarding.models import FlowRecord, Progress, StepState


@dataclass(frozen=True)
class StepDrop:
    flow: str
    step: str
    previous_rate: float
    current_rate: float
    previous_subjects: int
    current_subjects: int

    @property
    def drop(self) -> float:
        """The fall as a share of the earlier rate (0.5: half as many convert)."""
        return (self.previous_rate - self.current_rate) / self.previous_rate


def _rate(
    record: FlowRecord, step: str, before: str | None, start: datetime, end: datetime
) -> tuple[float | None, int]:
    # Who could convert: subjects that entered (first step) or did the previous step.
    if before is None:
        count = Progress.objects.filter(
            flow=record, entered_at__gte=start, entered_at__lt=end
        ).count()
    else:
        count = StepState.objects.filter(
            progress__flow=record, step_key=before, completed_at__gte=start, completed_at__lt=end
        ).count()
    done = StepState.objects.filter(
        progress__flow=record, step_key=step, completed_at__gte=start, completed_at__lt=end
    ).count()
    return (min(1.0, done / count) if count else None), count


def conversion_drops(
    *,
    now: datetime | None = None,
    days: int | None = None,
    drop: float | None = None,
    min_subjects: int | None = None,
) -> list[StepDrop]:
    """Steps of declared flows whose conversion fell more than ``drop``."""
    now = now or timezone.now()
    period = timedelta(days=days or onboarding_settings.HEALTH_ALERT_DAYS)
    threshold = onboarding_settings.HEALTH_ALERT_DROP if drop is None else drop
    least = min_subjects or onboarding_settings.HEALTH_ALERT_MIN_SUBJECTS
    found: list[StepDrop] = []
    records = FlowRecord.objects.filter(declared=True).select_related("current_version")
    for record in records:
        steps = record.current_version.steps if record.current_version else []
        before: str | None = None
        for step in steps:
            previous, previous_n = _rate(
                record, step["key"], before, now - 2 * period, now - period
            )
            current, current_n = _rate(record, step["key"], before, now - period, now)
            if (
                previous
                and current is not None
                and min(previous_n, current_n) >= least
                and (previous - current) / previous > threshold
            ):
                found.append(
                    StepDrop(record.key, step["key"], previous, current, previous_n, current_n)
                )
            if record.ordered and not step["optional"]:
                before = step["key"]
    return found


def send_alerts(drops: list[StepDrop]) -> None:
    """E-mail the drops (``HEALTH_ALERT_RECIPIENTS``, else MANAGERS) and signal each."""
    if not drops:
        return
    lines = [
        _("%(flow)s / %(step)s: %(before).1f %% -> %(now).1f %% (%(drop).0f %% lower)")
        % {
            "flow": one.flow,
            "step": one.step,
            "before": 100 * one.previous_rate,
            "now": 100 * one.current_rate,
            "drop": 100 * one.drop,
        }
        for one in drops
    ]
    subject = _("Onboarding conversion fell on %(count)d step(s)") % {"count": len(drops)}
    body = "\n".join(lines)
    recipients = onboarding_settings.HEALTH_ALERT_RECIPIENTS
    if recipients:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, list(recipients))
    else:
        mail_managers(subject, body)
    for one in drops:
        conversion_dropped.send(sender=one.flow, drop=one)
