"""Which step each funnel step is measured from: the pure rules of DESIGN.md, no SQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from onboarding.declarations import Flow


@dataclass(frozen=True)
class StepPlan:
    """One step of a funnel and the step it is measured against.

    ``anchor`` is the index of the "previous step" (``None``: entry). In ordered
    flows it is the nearest *required* step before this one, for required and
    optional steps alike, because optional steps neither gate nor break the chain.
    In any-order flows every step is measured from entry.
    """

    index: int
    key: str
    title: str
    optional: bool
    anchor: int | None


@dataclass(frozen=True)
class FunnelPlan:
    """The steps of a flow with their anchors, and how ``finished`` is decided."""

    flow: Flow
    steps: tuple[StepPlan, ...]

    @property
    def ordered(self) -> bool:
        return self.flow.ordered

    @property
    def required(self) -> list[int]:
        return [step.index for step in self.steps if not step.optional]

    def step(self, key: str) -> StepPlan:
        for step in self.steps:
            if step.key == key:
                return step
        from onboarding.exceptions import UnknownStep

        raise UnknownStep(self.flow.key, key)

    def chain(self, index: int) -> list[int]:
        """The steps whose times must be set (and non-decreasing) for ``index`` to count.

        Ordered flows: the required steps up to the anchor, then the step itself.
        Any-order flows: just the step.
        """
        step = self.steps[index]
        if step.anchor is None:
            return [index]
        return [*self.chain(step.anchor), index]

    def index_of(self, key: str) -> int | None:
        return next((step.index for step in self.steps if step.key == key), None)


def plan_for(flow: Flow) -> FunnelPlan:
    """The funnel plan of ``flow``'s declared steps."""
    return _plan(flow, [(step.key, str(step.title), step.optional) for step in flow.steps])


def _plan(flow: Flow, steps: list[tuple[str, str, bool]]) -> FunnelPlan:
    planned = []
    last_required: int | None = None
    for index, (key, title, optional) in enumerate(steps):
        anchor = last_required if flow.ordered else None
        planned.append(StepPlan(index, key, title, optional, anchor))
        if flow.ordered and not optional:
            last_required = index
    return FunnelPlan(flow=flow, steps=tuple(planned))


@dataclass(frozen=True)
class VersionPlans:
    """What a funnel counts when the flow's versions have different steps.

    ``counted`` lists the declared steps, then the steps only older versions have (the
    counting statement's step indexes); ``shown`` is the declared steps' plan;
    ``versions`` each version's own plan, by version id (``None``: every version has
    the declared steps, and subjects are measured against ``shown``).
    """

    counted: FunnelPlan
    shown: FunnelPlan
    versions: dict[int, FunnelPlan] | None


def version_plans(flow: Flow, stored: dict[int, list[dict[str, Any]]]) -> VersionPlans:
    """The plans of ``flow`` and of its versions' ``stored`` steps (``FlowVersion.steps``
    by version id), lined up by key."""
    shown = plan_for(flow)
    declared = [(step.key, step.optional) for step in shown.steps]
    own = {
        pk: [
            (step["key"], str(step.get("title", step["key"])), bool(step["optional"]))
            for step in steps
        ]
        for pk, steps in stored.items()
    }
    if all(
        [(key, optional) for key, _title, optional in steps] == declared for steps in own.values()
    ):
        return VersionPlans(counted=shown, shown=shown, versions=None)
    counted = [(step.key, step.title, step.optional) for step in shown.steps]
    known = {step.key for step in shown.steps}
    for _pk, steps in sorted(own.items()):
        for key, title, optional in steps:
            if key not in known:
                known.add(key)
                counted.append((key, title, optional))
    return VersionPlans(
        counted=_plan(flow, counted),
        shown=shown,
        versions={pk: _plan(flow, steps) for pk, steps in own.items()},
    )
