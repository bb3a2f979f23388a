"""Everything the funnel page shows, computed from one validated query by the query layer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from onboarding.experiments import DifferenceTest, Method, MetricResult, Plan, SampleRatio, plan
from onboarding.funnel import (
    CohortTable,
    FunnelExperiment,
    FunnelQuery,
    FunnelResult,
    StuckPage,
    VariantComparison,
    cohort_table,
    entry_rates,
    funnel_experiment,
    stuck_subjects,
)
from onboarding.funnel.compare import variant_comparisons
from onboarding.funnel.experiment import FINISHED, design_for
from onboarding.funnel.runner import run_funnel
from onboarding.funnel.stuck import Where

STUCK_PAGE_SIZE = 50


@dataclass(frozen=True)
class StepVariants:
    """One step in two variants: conversion from the previous step in each (descriptive:
    it conditions on reaching that step, which the variant may change), and the test of
    reach from entry (randomized), Holm-corrected with the other secondary metrics.
    """

    key: str
    title: str
    previous_a: float | None
    previous_b: float | None
    entry: MetricResult | None

    @property
    def previous_difference(self) -> float | None:
        if self.previous_a is None or self.previous_b is None:
            return None
        return self.previous_b - self.previous_a

    @property
    def entry_test(self) -> DifferenceTest | None:
        return self.entry.test if self.entry else None


@dataclass(frozen=True)
class Comparison:
    """Variant ``b`` against the control ``a``: the query layer's comparison per step."""

    variants: VariantComparison
    steps: list[StepVariants]


@dataclass(frozen=True)
class Planner:
    """The plan shown with the comparison, or before a test has two groups."""

    plan: Plan
    started: bool


@dataclass(frozen=True)
class FunnelReport:
    query: FunnelQuery
    result: FunnelResult
    comparisons: list[Comparison]
    cohorts: CohortTable
    stuck: StuckPage
    experiment: FunnelExperiment | None = None
    planner: Planner | None = None

    @property
    def computed_at(self) -> datetime:
        return self.result.computed_at

    @property
    def sample_ratio(self) -> SampleRatio | None:
        return self.experiment.analysis.sample_ratio if self.experiment else None


def variant_result(query: FunnelQuery, result: FunnelResult | None = None) -> FunnelResult | None:
    """The funnel's counts by variant: ``result`` if it already is broken down by variant,
    else a new run of counts only (the comparison tests counts; medians and p90s per
    variant would sort every reached time again: 1.5 s against 0.2 s at 1M subjects).

    ``None`` when there is nothing to compare (fewer than two variants declared or kept).
    """
    if result is not None and result.breakdown == "variant":
        return result
    declared = query.declaration.variants
    if len(query.variants or declared) < 2:
        return None
    return run_funnel(replace(query, breakdown="variant"), detail=False)


def experiment(
    query: FunnelQuery,
    by_variant: FunnelResult | None,
    *,
    method: Method | None = None,
    per_day: Mapping[str, float] | None = None,
) -> FunnelExperiment | None:
    if by_variant is None:
        return None
    return funnel_experiment(by_variant, query.declaration, method=method, per_day=per_day)


def comparisons(
    by_variant: FunnelResult | None, found: FunnelExperiment | None = None
) -> list[Comparison]:
    """Every variant against the flow's control, corrected together."""
    if by_variant is None or found is None:
        return []
    out = []
    for variants in variant_comparisons(by_variant, found.analysis):
        first, second = by_variant.groups[variants.a], by_variant.groups[variants.b]
        out.append(
            Comparison(
                variants=variants,
                steps=[
                    StepVariants(
                        key=step.key,
                        title=step.title,
                        previous_a=first.step(step.key).conversion_from_previous,
                        previous_b=second.step(step.key).conversion_from_previous,
                        entry=step.result,
                    )
                    for step in variants.steps
                ],
            )
        )
    return out


def planner(
    query: FunnelQuery,
    result: FunnelResult,
    found: FunnelExperiment | None,
    per_day: Mapping[str, float] | None,
    *,
    method: Method | None = None,
) -> Planner:
    """The running test's plan, or (no two groups yet) one for a test of two equal
    variants from the whole funnel's rate of the primary metric, at its entry rate."""
    if found is not None:
        return Planner(found.analysis.plan, started=True)
    design = design_for(query.declaration, method=method)
    metric = design.primary
    reached = result.finished if metric == FINISHED else result.step(metric).reached
    baseline = reached / result.entered if result.entered else 0.0
    rate = sum(per_day.values()) / 2 if per_day else None
    return Planner(
        plan(
            baseline,
            design.effect,
            entered=[0, 0],
            per_day=[rate, rate] if rate is not None else None,
            method=design.method,
            alpha=design.alpha,
            power=design.power,
            tuning=design.tuning,
        ),
        started=False,
    )


def worst_step(result: FunnelResult) -> str:
    """The step that loses the most subjects (the first on a tie): where to look first."""
    if not result.steps:
        raise ValueError(f"Flow {result.flow!r} has no steps.")
    return max(result.steps, key=lambda step: step.drop_off).key


def cohorts(query: FunnelQuery) -> CohortTable:
    return cohort_table(
        query.flow,
        entered_from=query.entered_from,
        entered_to=query.entered_to,
        window_days=query.window_days,
        variants=query.variants,
        versions=query.versions,
        using=query.using,
        use_rollup=query.use_rollup,
    )


def stuck(
    query: FunnelQuery,
    step: str,
    *,
    where: Where | None = None,
    page: int = 1,
    page_size: int | None,
) -> StuckPage:
    """One page of the subjects stuck before ``step``; a page past the end gives the last."""

    def fetch(number: int) -> StuckPage:
        return stuck_subjects(
            query.flow,
            step,
            entered_from=query.entered_from,
            entered_to=query.entered_to,
            window_days=query.window_days,
            variants=query.variants,
            versions=query.versions,
            where=where,
            page=number,
            page_size=page_size,
            using=query.using,
        )

    found = fetch(page)
    return fetch(found.pages) if page > found.pages else found


def build_report(
    query: FunnelQuery,
    *,
    step: str | None,
    where: Where | None,
    page: int,
    method: Method | None = None,
) -> FunnelReport:
    """Run the funnel, the experiment, the cohorts and one page of stuck subjects."""
    result = query.run()
    by_variant = variant_result(query, result)
    per_day = entry_rates(query, by_variant or result)
    found = experiment(query, by_variant, method=method, per_day=per_day)
    return FunnelReport(
        query=query,
        result=result,
        comparisons=comparisons(by_variant, found),
        experiment=found,
        planner=planner(query, result, found, per_day, method=method),
        cohorts=cohorts(query),
        stuck=stuck(
            query, step or worst_step(result), where=where, page=page, page_size=STUCK_PAGE_SIZE
        ),
    )
