"""Answer a funnel query from the rollup, when it can (see :func:`rollup_counts`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

from django.db.models import Sum

from onboarding.funnel.plan import plan_for
from onboarding.funnel.population import Grouping, Population
from onboarding.funnel.statements import ENTRY, Counts, median_rank, p90_rank
from onboarding.funnel.timeutil import week_start
from onboarding.rollups.buckets import bucket_at, bucket_value
from onboarding.rollups.models import FunnelRollup
from onboarding.rollups.stale import stale_days
from onboarding.rollups.state import RollupState, signature


def rollup_state_for(pop: Population) -> RollupState | None:
    """The rollup that answers ``pop``'s query exactly (times to a bucket), or ``None``.

    It must exist and match the flow's steps, the query's window and the current time
    zone (entry-day filters, variants, versions and entry weeks, which are sums of
    local entry days, are rollup columns).
    """
    query = pop.query
    if not query.use_rollup or pop.record is None:
        return None
    state = RollupState.load(query.flow, pop.using)
    wanted = signature(plan_for(query.declaration), query.effective_window_days)
    if state is None or state.signature != wanted:
        return None
    return state


def stale_cohorts(pop: Population) -> tuple[date, ...]:
    """The local entry days of ``pop``'s range that a late event changed since the rollup
    counted them (the next refresh recounts them), in order."""
    query = pop.query
    days = stale_days(pop.record.pk, pop.using) if pop.record is not None else set()
    return tuple(
        sorted(
            day
            for day in days
            if (query.entered_from is None or day >= query.entered_from)
            and (query.entered_to is None or day <= query.entered_to)
        )
    )


def _group_by(pop: Population, groups: Grouping) -> tuple[str, Callable[[Any], object]]:
    """The rollup column of ``groups``'s breakdown and how its value becomes a raw group.

    An entry week is the index of its Monday among ``groups.known``, as the exact
    statement's ``width_bucket``; a day outside them (``None``) counts for everyone only.
    """
    if pop.query.breakdown == "entry_week":
        index = {monday: i for i, monday in enumerate(groups.known)}
        return "day", lambda day: index.get(week_start(day).isoformat())
    field = {"variant": "variant", "version": "version_id"}[pop.query.breakdown or ""]
    return field, lambda value: value


def rollup_counts(pop: Population, groups: Grouping | None, *, detail: bool = True) -> Counts:
    """The counts of ``pop`` from the rollup, keyed like the exact statement's.

    ``detail=False`` sums no time buckets (medians and p90s ``None``), like the exact path.
    """
    query = pop.query
    rows = FunnelRollup.objects.using(pop.using).filter(flow=pop.record)
    if pop.outside_data:
        rows = rows.none()
    if query.entered_from:
        rows = rows.filter(day__gte=query.entered_from)
    if query.entered_to:
        rows = rows.filter(day__lte=query.entered_to)
    if query.variants:
        rows = rows.filter(variant__in=query.variants)
    if query.versions:
        numbers = set(query.versions)
        rows = rows.filter(
            version_id__in=[pk for pk, n in pop.version_numbers.items() if n in numbers]
        )
    field, raw = _group_by(pop, groups) if groups is not None else (None, None)
    fields = ["k", "bucket"] if detail else ["k"]
    fields = fields if field is None else [field, *fields]
    totals = (
        rows.order_by()
        .values(*fields)
        .annotate(n=Sum("subjects"), d=Sum("defaulted"))
        .values_list(*fields, "n", "d")
    )
    histograms: dict[tuple[object, int], dict[int, list[int]]] = defaultdict(dict)
    for row in totals:
        n, d = row[-2], row[-1]
        k, bucket = (row[-4], row[-3]) if detail else (row[-3], 0)
        group = None if raw is None else raw(row[0])
        keys: list[object] = [0] if raw is None else [None] if group is None else [None, group]
        for g in keys:
            slot = histograms[(g, k)].setdefault(bucket, [0, 0])
            slot[0] += n
            slot[1] += d
    counts: Counts = {}
    for key, histogram in histograms.items():
        ordered = sorted((bucket, n) for bucket, (n, _d) in histogram.items())
        total = sum(n for _b, n in ordered)
        defaulted = sum(d for _n, d in histogram.values())
        if key[1] == ENTRY:
            counts[key] = (total, 0, None, None)
            continue
        counts[key] = (
            total,
            defaulted,
            bucket_value(bucket_at(ordered, median_rank(total))),
            bucket_value(bucket_at(ordered, p90_rank(total))),
        )
    return counts
