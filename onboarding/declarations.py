"""Flows and steps as a Django developer declares them in ``onboarding_flows.py``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.urls import NoReverseMatch, reverse

# A predicate over the host app's own data: ``(subject) -> bool | datetime | None``.
# A datetime says when the step was done (used by backfill as ``occurred_at``).
Predicate = Callable[[Any], "bool | datetime | None"]
# Applies a step's smart default: ``(subject, actor) -> None``.
DefaultAction = Callable[[Any, Any], None]


@dataclass(frozen=True)
class Step:
    """One thing to do in a flow.

    ``url`` is a path or absolute URL when it contains ``/``, otherwise a URL name
    that is reversed. ``completed_by`` names a custom event kind that completes the
    step; ``done_when`` is a predicate used to backfill it from existing data.
    """

    key: str
    title: Any
    description: Any = ""
    url: str = ""
    optional: bool = False
    estimated_seconds: int = 0
    completed_by: str = ""
    done_when: Predicate | None = None
    default: DefaultAction | None = None
    default_label: Any = ""

    @property
    def has_default(self) -> bool:
        return self.default is not None

    @property
    def required(self) -> bool:
        return not self.optional

    def resolve_url(self) -> str:
        """The step's URL; an unknown URL name gives ``""`` (system check E003 reports it)."""
        if not self.url or "/" in self.url:
            return self.url
        try:
            return reverse(self.url)
        except NoReverseMatch:
            return ""

    def structure(self) -> dict[str, Any]:
        """What defines this step for versioning: changing any of it makes a new version."""
        return {
            "key": self.key,
            "optional": self.optional,
            "completed_by": self.completed_by,
            "has_default": self.has_default,
        }


@dataclass(frozen=True)
class Flow:
    """A named onboarding funnel.

    ``ordered`` flows are wizards (step k counts after step k-1), others are
    checklists. ``variants`` maps variant name to weight for A/B assignment; the
    others are judged against ``control`` (default: the first declared) on
    ``primary_metric`` (``"finished"`` or a step key), the planner sizing the test for
    ``minimum_effect`` (a change of points as a fraction, 0.02; default the setting).
    """

    key: str
    title: Any
    steps: Sequence[Step]
    description: Any = ""
    ordered: bool = True
    window_days: int | None = None
    variants: Mapping[str, int] = field(default_factory=dict)
    primary_metric: str = "finished"
    control: str = ""
    minimum_effect: float | None = None

    def __hash__(self) -> int:
        # Signals use the flow as sender, which must be hashable; steps and variants
        # are a list and a dict, so hash by key (equal flows have equal keys).
        return hash(self.key)

    def step(self, key: str) -> Step:
        for step in self.steps:
            if step.key == key:
                return step
        from onboarding.exceptions import UnknownStep

        raise UnknownStep(self.key, key)

    @property
    def step_keys(self) -> list[str]:
        return [step.key for step in self.steps]

    @property
    def control_variant(self) -> str:
        """The variant the others are judged against: ``control``, else the first declared."""
        return self.control or next(iter(self.variants), "")

    @property
    def required_steps(self) -> list[Step]:
        return [step for step in self.steps if step.required]

    def steps_completed_by(self, kind: str) -> list[Step]:
        return [step for step in self.steps if step.completed_by == kind]

    def fingerprint(self) -> str:
        """A stable hash of the step structure; a new one means a new version."""
        payload = json.dumps([step.structure() for step in self.steps], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def effective_window_days(self) -> int:
        from onboarding.conf import onboarding_settings

        return self.window_days or onboarding_settings.WINDOW_DAYS
