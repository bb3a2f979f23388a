"""Celery task: refresh every flow's funnel rollup (hourly is plenty; see onboarding.beat)."""

from __future__ import annotations

from celery import shared_task

from onboarding.rollups.build import refresh_all


@shared_task(name="onboarding.rollups.refresh")
def refresh_rollups() -> dict[str, int]:
    """Recount the open cohorts of every flow; the rows written per flow."""
    return {report.flow: report.rows for report in refresh_all()}
