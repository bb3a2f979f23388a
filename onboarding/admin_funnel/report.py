"""Everything the funnel page shows, computed from one validated query by the query layer."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from onboarding.funnel import (
    CohortTable,
    FunnelQuery,
    FunnelResult,
    StuckPage,
    VariantComparison,
    ZTest,
    cohort_table,
    compare_variants,
    stuck_subjects,
    two_proportion_z_test,
)
from onboarding.funnel.runner import run_funnel
from onboarding.funnel.stuck import Where

STUCK_PAGE_SIZE = 50


@dataclass(frozen=True)
class StepVariants:
    """One step in two variants: conversion from the previous step in each, and its test.

    The query layer's comparison tests reach from entry; a product manager reads a
    step's own conversion (customize after the word list: 82 % against 90 %), so it
    is tested here too, on the same counts.
    """

    key: str
    title: str
    previous_a: float | None
    previous_b: float | None
    previous_test: ZTest | None
    entry_test: ZTest | None


@dataclass(frozen=True)
class Comparison:
    """Variant ``b`` against ``a``: the query layer's comparison plus per-step conversion."""

    variants: VariantComparison
    steps: list[StepVariants]


@dataclass(frozen=True)
class FunnelReport:
    query: FunnelQuery
    result: FunnelResult
    comparisons: list[Comparison]
    cohorts: CohortTable
    stuck: StuckPage

    @property
    def computed_at(self) -> datetime:
        return self.result.computed_at


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


def _previous_test(first: FunnelResult, second: FunnelResult, key: str) -> ZTest | None:
    one, two = first.step(key), second.step(key)
    if not one.previous_reached or not two.previous_reached:
        return None
    return two_proportion_z_test(
        one.reached, one.previous_reached, two.reached, two.previous_reached
    )


def comparisons(by_variant: FunnelResult | None) -> list[Comparison]:
    """Every variant against the first in name order (the query layer's convention)."""
    if by_variant is None or len(by_variant.groups) < 2:
        return []
    baseline, *others = sorted(by_variant.groups)
    found = []
    for other in others:
        variants = compare_variants(by_variant, baseline, other)
        first, second = by_variant.groups[baseline], by_variant.groups[other]
        found.append(
            Comparison(
                variants=variants,
                steps=[
                    StepVariants(
                        key=step.key,
                        title=step.title,
                        previous_a=first.step(step.key).conversion_from_previous,
                        previous_b=second.step(step.key).conversion_from_previous,
                        previous_test=_previous_test(first, second, step.key),
                        entry_test=step.test,
                    )
                    for step in variants.steps
                ],
            )
        )
    return found


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
    query: FunnelQuery, *, step: str | None, where: Where | None, page: int
) -> FunnelReport:
    """Run the funnel, the variant comparison, the cohorts and one page of stuck subjects."""
    result = query.run()
    by_variant = variant_result(query, result)
    return FunnelReport(
        query=query,
        result=result,
        comparisons=comparisons(by_variant),
        cohorts=cohorts(query),
        stuck=stuck(
            query, step or worst_step(result), where=where, page=page, page_size=STUCK_PAGE_SIZE
        ),
    )
