"""Answer a funnel query from the rollup, when it can (see :func:`rollup_counts`)."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Sum

from onboarding.funnel.plan import plan_for
from onboarding.funnel.population import Population
from onboarding.funnel.statements import ENTRY, Counts, median_rank, p90_rank
from onboarding.rollups.buckets import bucket_at, bucket_value
from onboarding.rollups.models import FunnelRollup
from onboarding.rollups.state import RollupState, signature


def rollup_state_for(pop: Population) -> RollupState | None:
    """The rollup that answers ``pop``'s query exactly (times to a bucket), or ``None``.

    It must exist and match the flow's steps, the query's window and the current time
    zone; the breakdown must be none, variant or version (entry-day filters, variants
    and versions are rollup columns).
    """
    query = pop.query
    if not query.use_rollup or pop.record is None or query.breakdown == "entry_week":
        return None
    state = RollupState.load(query.flow, pop.using)
    wanted = signature(plan_for(query.declaration), query.effective_window_days)
    if state is None or state.signature != wanted:
        return None
    return state


def rollup_counts(pop: Population, group_field: str | None) -> Counts:
    """The counts of ``pop`` from the rollup, keyed like the exact statement's."""
    query = pop.query
    rows = FunnelRollup.objects.using(pop.using).filter(flow=pop.record)
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
    fields = ["k", "bucket"] if group_field is None else [group_field, "k", "bucket"]
    totals = (
        rows.order_by()
        .values(*fields)
        .annotate(n=Sum("subjects"), d=Sum("defaulted"))
        .values_list(*fields, "n", "d")
    )
    histograms: dict[tuple[object, int], dict[int, list[int]]] = defaultdict(dict)
    for row in totals:
        *group, k, bucket, n, d = row
        keys = [0] if group_field is None else [None, group[0]]
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
