"""Celery task of the sweeper (beat entry ``onboarding-sweep``, see ``onboarding.beat``)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from onboarding.sweeper import sweep


@shared_task(name="onboarding.sweep")
def sweep_lost_tasks(names: list[str] | None = None) -> list[dict[str, Any]]:
    """Queue again the tasks every sweepable (or those named) finds lost."""
    return [result.as_dict() for result in sweep(names)]
