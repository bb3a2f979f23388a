"""Which step each funnel step is measured from: the pure rules of DESIGN.md, no SQL."""

from __future__ import annotations

from dataclasses import dataclass

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


def plan_for(flow: Flow) -> FunnelPlan:
    """The funnel plan of ``flow``'s declared steps."""
    steps = []
    last_required: int | None = None
    for index, step in enumerate(flow.steps):
        anchor = last_required if flow.ordered else None
        steps.append(StepPlan(index, step.key, str(step.title), step.optional, anchor))
        if flow.ordered and step.required:
            last_required = index
    return FunnelPlan(flow=flow, steps=tuple(steps))
