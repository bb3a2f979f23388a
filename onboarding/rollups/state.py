"""What a flow's rollup was built for, kept in a :class:`~onboarding.models.Checkpoint`.

A rollup answers a query only when it was built with the same steps, window and
time zone (entry days are local dates); otherwise the next refresh rebuilds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.utils import timezone

from onboarding.funnel.plan import FunnelPlan
from onboarding.models import Checkpoint


def checkpoint_name(flow: str) -> str:
    return f"onboarding.rollup:{flow}"


def signature(plan: FunnelPlan, window_days: int) -> dict[str, object]:
    """The inputs a rollup's numbers depend on, as JSON."""
    return {
        "ordered": plan.ordered,
        "steps": [[step.key, step.optional] for step in plan.steps],
        "window_days": window_days,
        "time_zone": timezone.get_current_timezone_name(),
    }


@dataclass(frozen=True)
class RollupState:
    """A built rollup: its signature, when it was last refreshed, and its first open day."""

    signature: dict[str, object]
    fresh_as_of: datetime
    open_from: date

    @classmethod
    def load(cls, flow: str, using: str) -> RollupState | None:
        row = Checkpoint.objects.using(using).filter(name=checkpoint_name(flow)).first()
        if row is None or "fresh_as_of" not in row.value:
            return None
        return cls(
            signature=row.value["signature"],
            fresh_as_of=datetime.fromisoformat(row.value["fresh_as_of"]),
            open_from=date.fromisoformat(row.value["open_from"]),
        )

    def save(self, flow: str, using: str) -> None:
        Checkpoint.objects.using(using).update_or_create(
            name=checkpoint_name(flow),
            defaults={
                "value": {
                    "signature": self.signature,
                    "fresh_as_of": self.fresh_as_of.isoformat(),
                    "open_from": self.open_from.isoformat(),
                }
            },
        )
