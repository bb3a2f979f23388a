"""The sweeper: background work whose task was lost is queued again.

A task can be lost between a row that says "to do" and the broker: the worker died
after the commit and before the publish, the broker was down, or a message vanished
with its worker. Each feature registers a *sweepable*, a function that finds its rows
left waiting longer than its bound and queues their task again (the task must be safe
to run twice). ``sweep()`` runs them all; beat runs it as ``onboarding.sweep`` and
``manage.py onboarding_sweep`` by hand. Register in an ``AppConfig.ready()``::

    from onboarding.sweeper import SweepResult, sweepables

    def requeue_lost_deliveries(now):
        ...  # queue the task of each row waiting since before now - bound
        return SweepResult(requeued=count)

    sweepables.register("webhooks", requeue_lost_deliveries)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from django.utils import timezone

logger = logging.getLogger("onboarding.sweeper")


@dataclass(frozen=True)
class SweepResult:
    """What one sweepable did: tasks queued again, rows left for staff, an error."""

    name: str = ""
    requeued: int = 0
    needs_attention: int = 0
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Sweepable = Callable[[datetime], SweepResult]


class SweepRegistry:
    """Name -> sweepable; registering a name again replaces it."""

    def __init__(self) -> None:
        self._sweepables: dict[str, Sweepable] = {}

    def register(self, name: str, function: Sweepable) -> None:
        self._sweepables[name] = function

    def unregister(self, name: str) -> None:
        self._sweepables.pop(name, None)

    def names(self) -> list[str]:
        return list(self._sweepables)

    def get(self, name: str) -> Sweepable:
        return self._sweepables[name]


sweepables = SweepRegistry()


def sweep(names: Iterable[str] | None = None, *, now: datetime | None = None) -> list[SweepResult]:
    """Run the sweepables (or those named); one that raises does not stop the others."""
    now = now or timezone.now()
    results = []
    for name in list(names) if names is not None else sweepables.names():
        try:
            result = replace(sweepables.get(name)(now), name=name)
        except Exception as error:  # a broker down: the next sweep tries again
            logger.exception("Sweep %r failed", name)
            result = SweepResult(name=name, error=f"{type(error).__name__}: {error}")
        if result.requeued or result.needs_attention:
            logger.warning(
                "Sweep %r: %d task(s) queued again, %d row(s) need staff",
                name,
                result.requeued,
                result.needs_attention,
            )
        results.append(result)
    return results


__all__ = ["SweepRegistry", "SweepResult", "Sweepable", "sweep", "sweepables"]
