"""Compute a :class:`FunnelResult`: one counting statement, then shaping in Python.

When a maintained rollup matches the query (``onboarding.rollups.answer``) the counts
come from it instead, without touching the subjects' rows.

The statement (``onboarding.funnel.statements``) pivots each subject's step times
into one row, applies the window and ordering rules as SQL conditions and counts
per group and step; Python only shapes its few rows, so the cost stays in the
database.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import NamedTuple

from django.utils import timezone

from onboarding.funnel.brackets import bracketed_counts
from onboarding.funnel.plan import FunnelPlan
from onboarding.funnel.population import Grouping, Population, grouping, population
from onboarding.funnel.query import FunnelQuery
from onboarding.funnel.result import FunnelResult, StepResult
from onboarding.funnel.statements import ENTRY, Count, Counts, count
from onboarding.rollups.answer import rollup_counts, rollup_state_for, stale_cohorts

# The group of a breakdown value absent from the data: every count is zero.
_MISSING = object()


class Source(NamedTuple):
    """Where the counts came from, as of when (``None``: now), and the entry days a late
    event changed since (the rollup's next refresh recounts them)."""

    name: str
    fresh_as_of: datetime | None
    stale_cohorts: tuple[date, ...] = ()


def run_funnel(query: FunnelQuery, *, detail: bool = True) -> FunnelResult:
    """The result of ``query``. ``detail=False`` (exact counts only) leaves medians and
    p90s out (``None``) and defaulted counts at 0, for callers that show reached counts
    only: it spares the sorts the times need."""
    pop = population(query)
    groups = grouping(pop)
    rollup = None if pop.record is None else rollup_state_for(pop)
    if rollup is not None:
        counts: Counts = rollup_counts(pop, groups, detail=detail)
        source = Source("rollup", rollup.fresh_as_of, stale_cohorts(pop))
    else:
        counts = {} if pop.empty else _exact(pop, groups, detail)
        source = Source("exact", None)
    computed_at = timezone.now()
    if groups is None:
        return _result(pop, counts, 0, computed_at, source)
    raw_by_key = {groups.key(raw): raw for raw, _ in counts if raw is not None}
    keys = sorted(set(groups.known) | set(raw_by_key), key=groups.order)
    return _result(
        pop,
        counts,
        None,
        computed_at,
        source,
        breakdown=query.breakdown,
        groups={
            key: _result(
                pop,
                counts,
                raw_by_key.get(key, _MISSING),
                computed_at,
                source,
                # A version's group shows that version's own steps.
                shown=pop.plan_of(_version_id(pop, key)) if query.breakdown == "version" else None,
            )
            for key in keys
        },
    )


def _version_id(pop: Population, number: str) -> int | None:
    return next((pk for pk, n in pop.version_numbers.items() if str(n) == number), None)


def _exact(pop: Population, groups: Grouping | None, detail: bool) -> Counts:
    """Exact counts; on PostgreSQL, percentiles of a large population from brackets."""
    if pop.dialect.vendor == "postgresql" and groups is None and detail:
        with pop.dialect.cursor(pop.using) as cursor:
            found = bracketed_counts(pop, cursor)
        if found is not None:
            return found
    return count(pop, groups, detail=detail)


def _result(
    pop: Population,
    counts: Counts,
    group: object,
    computed_at: datetime,
    source: Source,
    *,
    breakdown: str | None = None,
    groups: dict[str, FunnelResult] | None = None,
    shown: FunnelPlan | None = None,
) -> FunnelResult:
    """The result of one group (``None``: everyone in a breakdown; ``0``: no breakdown),
    listing the steps of ``shown`` (default: the declared ones)."""
    plan: FunnelPlan = shown or pop.plan_of(None)
    # Counts are keyed by the counted plan's step indexes: steps line up by key.
    counted = {step.key: step.index + 1 for step in pop.plan.steps}

    def get(k: int) -> Count:
        return counts.get((group, k), (0, 0, None, None))

    entered = get(ENTRY)[0]
    steps = []
    for step in plan.steps:
        reached, defaulted, median, p90 = get(counted[step.key])
        anchor = None if step.anchor is None else plan.steps[step.anchor]
        steps.append(
            StepResult(
                key=step.key,
                title=step.title,
                optional=step.optional,
                previous=anchor.key if anchor else None,
                reached=reached,
                previous_reached=get(counted[anchor.key])[0] if anchor else entered,
                entered=entered,
                defaulted=defaulted,
                median_time=median,
                p90_time=p90,
            )
        )
    finished, _, median, p90 = get(len(pop.plan.steps) + 1)
    return FunnelResult(
        flow=plan.flow.key,
        ordered=plan.ordered,
        window_days=pop.query.effective_window_days,
        entered=entered,
        finished=finished,
        median_time_to_finish=median,
        p90_time_to_finish=p90,
        steps=steps,
        computed_at=computed_at,
        breakdown=breakdown,
        groups=groups or {},
        source=source.name,
        fresh_as_of=source.fresh_as_of or computed_at,
        stale_cohorts=source.stale_cohorts,
        entered_from=pop.query.entered_from,
        entered_to=pop.query.entered_to,
    )
