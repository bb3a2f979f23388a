"""The app's periodic tasks and an idempotent way to add them to Celery beat.

With ``CELERY_BEAT_SCHEDULE`` (beat's default scheduler), in settings::

    from onboarding.beat import merge_beat_schedule
    CELERY_BEAT_SCHEDULE = merge_beat_schedule(CELERY_BEAT_SCHEDULE)

or on the Celery app: ``install_beat_schedule(app)``. With django-celery-beat's
``DatabaseScheduler`` do the same: at start it writes every ``beat_schedule`` entry into
its ``PeriodicTask`` table by name (update or create), so restarts add no duplicates,
and staff may then change the interval in its admin.

Entries already present, by name or by task, are kept as the host wrote them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

HOUR = 60 * 60.0

#: Name -> beat entry. Plain numbers (seconds) so that any scheduler can store them.
ENTRIES: dict[str, dict[str, Any]] = {
    "onboarding-nudges": {"task": "onboarding.nudges.evaluate", "schedule": HOUR},
    "onboarding-health-scores": {"task": "onboarding.health.score", "schedule": 6 * HOUR},
    "onboarding-conversion-alerts": {"task": "onboarding.health.alerts", "schedule": 24 * HOUR},
    # Open cohorts only: older entry days are final, so an hourly refresh stays cheap.
    "onboarding-funnel-rollups": {"task": "onboarding.rollups.refresh", "schedule": HOUR},
    # Queues again what lost its task (nudge sends, webhook deliveries); a lost nudge
    # goes out at most NUDGE_SWEEP_AFTER_SECONDS + 5 minutes late, a lost delivery
    # WEBHOOK_REQUEUE_AFTER_SECONDS + 5 minutes late.
    "onboarding-sweep": {"task": "onboarding.sweep", "schedule": 5 * 60.0},
}


def merge_beat_schedule(schedule: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A copy of ``schedule`` with the app's entries added where missing.

    An entry is missing when no entry has its name and none runs its task: a host that
    scheduled ``onboarding.nudges.evaluate`` under its own name keeps only that one.
    """
    merged = dict(schedule or {})
    tasks = {entry.get("task") for entry in merged.values() if isinstance(entry, Mapping)}
    for name, entry in ENTRIES.items():
        if name not in merged and entry["task"] not in tasks:
            merged[name] = copy.deepcopy(entry)
    return merged


def install_beat_schedule(app: Any) -> list[str]:
    """Add the app's entries to ``app.conf.beat_schedule``; returns the names added."""
    current = dict(app.conf.beat_schedule or {})
    merged = merge_beat_schedule(current)
    app.conf.beat_schedule = merged
    return [name for name in merged if name not in current]


__all__ = ["ENTRIES", "install_beat_schedule", "merge_beat_schedule"]
