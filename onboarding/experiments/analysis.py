"""One experiment judged whole: the split, the primary metric, corrected secondaries, a plan.

Numbers in, numbers out: the funnel, the nudges and any outcome (retention, paid
conversion) describe their groups as :class:`Arm` values and read an :class:`Analysis`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from onboarding.experiments import sequential
from onboarding.experiments.multiple import holm
from onboarding.experiments.planning import Plan, plan
from onboarding.experiments.proportions import (
    ALPHA,
    POWER,
    DifferenceTest,
    Method,
    Proportion,
    z_test,
)
from onboarding.experiments.srm import SRM_THRESHOLD, SampleRatio, sample_ratio

# The planner's default minimum detectable effect: 2 points.
EFFECT = 0.02


@dataclass(frozen=True)
class Arm:
    """One group: its declared ``weight`` (0: unknown, no split is checked), its
    ``subjects`` and, per metric, how many of them converted."""

    name: str
    weight: float
    subjects: int
    conversions: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Design:
    """How to judge: against ``control``, on one ``primary`` metric (alone), with the
    ``secondary`` ones Holm-corrected together; ``effect`` is what the planner plans for."""

    control: str
    primary: str
    secondary: tuple[str, ...] = ()
    method: Method = "sequential"
    alpha: float = ALPHA
    power: float = POWER
    tuning: float = sequential.TUNING
    effect: float = EFFECT
    srm_threshold: float = SRM_THRESHOLD


@dataclass(frozen=True)
class MetricResult:
    """``variant`` against ``control`` on ``metric``. ``adjusted_p_value`` is Holm's
    over the ``family`` comparisons judged together (the raw p-value for a family of 1);
    ``test`` and the adjusted value are ``None`` when either group has no subjects."""

    metric: str
    variant: str
    control: str
    primary: bool
    test: DifferenceTest | None
    adjusted_p_value: float | None = None
    family: int = 1

    @property
    def significant(self) -> bool:
        return (
            self.test is not None
            and self.adjusted_p_value is not None
            and self.adjusted_p_value < self.test.alpha
        )


@dataclass(frozen=True)
class Analysis:
    design: Design
    arms: tuple[Arm, ...]
    sample_ratio: SampleRatio | None
    primary: list[MetricResult]
    secondary: list[MetricResult]
    plan: Plan

    @property
    def trustworthy(self) -> bool:
        """False when the split is broken: no result of this experiment can be trusted."""
        return self.sample_ratio is None or not self.sample_ratio.mismatch

    def result(self, variant: str, metric: str) -> MetricResult:
        for one in (*self.primary, *self.secondary):
            if (one.variant, one.metric) == (variant, metric):
                return one
        raise KeyError(f"No comparison of {variant!r} on {metric!r}.")


def difference_test(
    control: Proportion,
    variant: Proportion,
    *,
    method: Method = "sequential",
    alpha: float = ALPHA,
    tuning: float = sequential.TUNING,
) -> DifferenceTest | None:
    """``variant`` against ``control`` by ``method``; ``None`` if a group is empty."""
    if not control.total or not variant.total:
        return None
    if method == "fixed":
        return z_test(control, variant, alpha=alpha)
    return sequential.sequential_test(control, variant, alpha=alpha, tuning=tuning)


def _corrected(results: list[MetricResult]) -> list[MetricResult]:
    tested = [one for one in results if one.test is not None]
    adjusted = holm([one.test.p_value for one in tested if one.test is not None])
    by_id = {id(one): value for one, value in zip(tested, adjusted, strict=True)}
    return [
        MetricResult(
            metric=one.metric,
            variant=one.variant,
            control=one.control,
            primary=one.primary,
            test=one.test,
            adjusted_p_value=by_id.get(id(one)),
            family=len(tested),
        )
        for one in results
    ]


def analyze(
    arms: Sequence[Arm],
    design: Design,
    *,
    per_day: Mapping[str, float] | None = None,
    baseline: float | None = None,
) -> Analysis:
    """Judge every arm against the control: the split first, then the primary metric
    (Holm over the variants when there are several), then the secondary metrics (Holm
    over every variant and metric). ``per_day`` entry rates let the plan count days;
    ``baseline`` is the planner's rate when the control has no subjects yet."""
    names = [arm.name for arm in arms]
    if design.control not in names:
        raise ValueError(f"No control {design.control!r} among {', '.join(names) or 'none'}.")
    control = next(arm for arm in arms if arm.name == design.control)
    variants = [arm for arm in arms if arm.name != design.control]

    def compare(arm: Arm, metric: str, primary: bool) -> MetricResult:
        test = difference_test(
            Proportion(control.conversions.get(metric, 0), control.subjects),
            Proportion(arm.conversions.get(metric, 0), arm.subjects),
            method=design.method,
            alpha=design.alpha,
            tuning=design.tuning,
        )
        return MetricResult(metric, arm.name, control.name, primary, test)

    primary = _corrected([compare(arm, design.primary, True) for arm in variants])
    secondary = _corrected(
        [
            compare(arm, metric, False)
            for arm in variants
            for metric in design.secondary
            if metric != design.primary
        ]
    )
    split = (
        sample_ratio(
            {arm.name: arm.subjects for arm in arms},
            {arm.name: arm.weight for arm in arms},
            threshold=design.srm_threshold,
        )
        if len(arms) >= 2 and all(arm.weight > 0 for arm in arms)
        else None
    )
    if control.subjects:
        baseline = control.conversions.get(design.primary, 0) / control.subjects
    comparisons = max(1, len(variants))
    return Analysis(
        design=design,
        arms=tuple(arms),
        sample_ratio=split,
        primary=primary,
        secondary=secondary,
        plan=plan(
            baseline or 0.0,
            design.effect,
            entered=[arm.subjects for arm in arms],
            per_day=[per_day.get(arm.name, 0.0) for arm in arms] if per_day else None,
            method=design.method,
            # Bonferroni over the variants: what Holm needs at worst for the primary.
            alpha=design.alpha / comparisons,
            power=design.power,
            tuning=design.tuning,
        ),
    )
