"""Compare two variants of a funnel: the primary metric, each step corrected, a verdict."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from onboarding.declarations import Flow
from onboarding.exceptions import UnknownFlow
from onboarding.experiments import (
    Analysis,
    DifferenceTest,
    Method,
    MetricResult,
    Plan,
    SampleRatio,
    analyze,
    wording,
)
from onboarding.funnel.experiment import FINISHED, arm, design_for, finishing_step
from onboarding.funnel.result import FunnelResult
from onboarding.registry import get_flow


@dataclass(frozen=True)
class StepComparison:
    """Reach from entry to one step in each variant, its test, and Holm's adjusted
    p-value among the secondary metrics (the raw one if the step is the primary)."""

    key: str
    title: str
    test: DifferenceTest | None
    result: MetricResult | None = None

    @property
    def adjusted_p_value(self) -> float | None:
        return self.result.adjusted_p_value if self.result else None

    @property
    def significant(self) -> bool:
        return self.result is not None and self.result.significant


@dataclass(frozen=True)
class VariantComparison:
    """Variant ``b`` against control ``a``. ``test`` is the finish rate's (``None`` when
    either has no subjects); ``primary`` names the metric the verdict judges.

    ``needed_per_variant`` is the planner's size for the flow's minimum detectable
    effect; ``more_needed`` how many more the smaller variant needs.
    """

    a: str
    b: str
    entered_a: int
    entered_b: int
    finished_a: int
    finished_b: int
    test: DifferenceTest | None
    steps: list[StepComparison]
    alpha: float
    power: float
    needed_per_variant: int | None = None
    method: Method = "sequential"
    primary: str = FINISHED
    primary_title: str = ""
    primary_result: MetricResult | None = None
    finished_result: MetricResult | None = None
    sample_ratio: SampleRatio | None = None
    plan: Plan | None = None
    metrics: dict[str, MetricResult] = field(default_factory=dict)

    @property
    def trustworthy(self) -> bool:
        return self.sample_ratio is None or not self.sample_ratio.mismatch

    @property
    def steps_by_key(self) -> dict[str, StepComparison]:
        return {step.key: step for step in self.steps}

    @property
    def significant(self) -> bool:
        return self.trustworthy and bool(self.primary_result and self.primary_result.significant)

    @property
    def more_needed(self) -> int | None:
        return self.plan.more_needed if self.plan else None

    @property
    def verdict(self) -> str:
        """One plain sentence for a product manager."""
        assert self.primary_result is not None
        return wording.verdict(
            self.primary_result, metric_title=self.primary_title, trustworthy=self.trustworthy
        )


def _flow(result: FunnelResult) -> Flow | None:
    try:
        return get_flow(result.flow)
    except UnknownFlow:
        return None


def compare_variants(
    result: FunnelResult,
    a: str | None = None,
    b: str | None = None,
    *,
    alpha: float | None = None,
    power: float | None = None,
    method: Method | None = None,
) -> VariantComparison:
    """Compare variant ``b`` with control ``a`` in a result broken down by variant.

    Without names, a result with exactly two variants compares them with the flow's
    control as ``a`` (name order for an undeclared pair). ``method`` and the levels
    default to the ``EXPERIMENT_*`` settings.
    """
    if result.breakdown != "variant":
        raise ValueError("compare_variants needs a result of FunnelQuery(breakdown='variant').")
    flow = _flow(result)
    if a is None and b is None:
        if len(result.groups) != 2:
            raise ValueError(
                f"Name the variants to compare: there are {len(result.groups)} "
                f"({', '.join(sorted(result.groups)) or 'none'})."
            )
        a, b = sorted(result.groups)
        if flow is not None and flow.control_variant == b:
            a, b = b, a
    if a is None or b is None:
        raise ValueError("Name both variants to compare, or neither.")
    for name in (a, b):
        if name not in result.groups:
            raise ValueError(
                f"No variant {name!r} in the result; it has {', '.join(sorted(result.groups))}."
            )
    declared = flow or Flow(key=result.flow, title=result.flow, steps=())
    design = design_for(
        declared,
        method=method,
        control=a,
        steps=[step.key for step in result.steps],
        finishing_step=finishing_step(result),
    )
    design = replace(
        design,
        alpha=design.alpha if alpha is None else alpha,
        power=design.power if power is None else power,
    )
    first, second = result.groups[a], result.groups[b]
    weights = declared.variants
    arms = [arm(a, first, weights.get(a, 0)), arm(b, second, weights.get(b, 0))]
    analysis = analyze(arms, design)
    return comparison_of(result, analysis, b)


def comparison_of(result: FunnelResult, analysis: Analysis, variant: str) -> VariantComparison:
    """``variant`` against the control in ``analysis`` (of ``result``'s groups): corrected
    with the whole analysis's families, so with every variant when there are several."""
    design = analysis.design
    a, b = design.control, variant
    first, second = result.groups[a], result.groups[b]
    mine = [one for one in (*analysis.primary, *analysis.secondary) if one.variant == b]
    metrics = {one.metric: one for one in mine}
    same = finishing_step(result)
    if same is not None:
        # Judged once (design_for): the step's row and the finish row read the same test.
        found = metrics.get(same) or metrics.get(FINISHED)
        if found is not None:
            metrics.setdefault(same, found)
            metrics.setdefault(FINISHED, found)
    titles = {step.key: str(step.title) for step in result.steps}
    finished = metrics.get(FINISHED)
    return VariantComparison(
        a=a,
        b=b,
        entered_a=first.entered,
        entered_b=second.entered,
        finished_a=first.finished,
        finished_b=second.finished,
        test=finished.test if finished else None,
        steps=[
            StepComparison(step.key, step.title, metrics[step.key].test, metrics[step.key])
            for step in first.steps
        ],
        alpha=design.alpha,
        power=design.power,
        needed_per_variant=analysis.plan.needed,
        method=design.method,
        primary=design.primary,
        primary_title="" if design.primary == FINISHED else titles.get(design.primary, ""),
        primary_result=metrics[design.primary],
        finished_result=finished,
        sample_ratio=analysis.sample_ratio,
        plan=analysis.plan,
        metrics=metrics,
    )


def variant_comparisons(result: FunnelResult, analysis: Analysis) -> list[VariantComparison]:
    """Every variant of ``analysis`` against its control, in declared order."""
    return [comparison_of(result, analysis, one.variant) for one in analysis.primary]
