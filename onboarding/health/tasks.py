"""Celery tasks: scores (every few hours) and conversion alerts (daily); see onboarding.beat."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from onboarding.health.alerts import conversion_drops, send_alerts
from onboarding.health.score import compute_scores


@shared_task(name="onboarding.health.score")
def score_subjects() -> dict[str, Any]:
    report = compute_scores()
    return {"subjects": report.subjects, "batches": report.batches, **report.segments}


@shared_task(name="onboarding.health.alerts")
def conversion_alerts() -> list[dict[str, Any]]:
    drops = conversion_drops()
    send_alerts(drops)
    return [
        {"flow": one.flow, "step": one.step, "before": one.previous_rate, "now": one.current_rate}
        for one in drops
    ]
