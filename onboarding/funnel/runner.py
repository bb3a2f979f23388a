"""Compute a :class:`FunnelResult` in one SQL statement.

The statement pivots each subject's step times into one row (conditional aggregation
over its step states), applies the window and the ordering rules as SQL conditions,
then counts and ranks per group and step with window functions. Python only shapes
the few result rows, so the cost stays in the database.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connections
from django.utils import timezone

from onboarding.funnel.plan import FunnelPlan
from onboarding.funnel.population import Grouping, Population, grouping, population
from onboarding.funnel.query import FunnelQuery
from onboarding.funnel.result import FunnelResult, StepResult
from onboarding.funnel.sql import FunnelSQL, default_column, pivot_queryset, rank_sql, time_column

# Pseudo-step numbers in the statement: 0 is entry, 1..n the steps, n + 1 finishing.
ENTRY = 0

# (count, defaulted, median, p90) per (group, pseudo-step).
Counts = dict[tuple[object, int], tuple[int, int, int | None, int | None]]


# The group of a breakdown value absent from the data: every count is zero.
_MISSING = object()


def run_funnel(query: FunnelQuery) -> FunnelResult:
    pop = population(query)
    groups = grouping(pop)
    counts: Counts = {} if pop.empty else _execute(pop, groups)
    computed_at = timezone.now()
    if groups is None:
        return _result(pop, counts, 0, computed_at)
    raw_by_key = {groups.key(raw): raw for raw, _ in counts if raw is not None}
    keys = sorted(set(groups.known) | set(raw_by_key), key=groups.order)
    return _result(
        pop,
        counts,
        None,
        computed_at,
        breakdown=query.breakdown,
        groups={
            key: _result(pop, counts, raw_by_key.get(key, _MISSING), computed_at) for key in keys
        },
    )


def statement(pop: Population, groups: Grouping | None) -> tuple[str, list[object]]:
    """The SQL and parameters counting ``pop``, per group when ``groups`` is given."""
    plan = pop.plan
    sql = FunnelSQL(plan, pop.vendor)
    pivot = pivot_queryset(plan, pop.progress, ("variant", "version_id", "entered_at"))
    pivot_sql, params = pivot.query.get_compiler(using=pop.using).as_sql()
    base = sql.base(
        pivot_sql, ["variant", "version_id"], groups.sql if groups else "0", pop.window_us
    )
    finish = len(plan.steps) + 1

    deltas = [f"WHEN {ENTRY} THEN 0"]
    defaults = []
    hits = [f"WHEN {ENTRY} THEN 1"]
    for step in plan.steps:
        k = step.index + 1
        deltas.append(f"WHEN {k} THEN {time_column(step.index)} - {sql.since(step.index)}")
        defaults.append(f"WHEN {k} THEN {default_column(step.index)}")
        hits.append(f"WHEN {k} THEN {sql.flag(sql.reached(step.index))}")
    deltas.append(f"WHEN {finish} THEN {sql.finish_delta()}")
    hits.append(f"WHEN {finish} THEN {sql.flag(sql.finished())}")
    defaults_sql = f"CASE ks.k {' '.join(defaults)} ELSE 0 END" if defaults else "0"
    pseudo = " UNION ALL ".join(f"SELECT {k} AS k" for k in range(finish + 1))
    if groups:
        # Level 0 counts everyone (group NULL), level 1 each group: one scan for both.
        levels = ", lv AS (SELECT 0 AS lv UNION ALL SELECT 1 AS lv)"
        group_out, join_levels = "CASE WHEN lv.lv = 1 THEN base.g END", " CROSS JOIN lv"
    else:
        levels, group_out, join_levels = "", "base.g", ""
    text = (
        f"WITH base AS ({base}), ks AS ({pseudo}){levels}, "
        f"picked AS (SELECT {group_out} AS g, ks.k AS k, "
        f"CASE ks.k {' '.join(deltas)} END AS delta, {defaults_sql} AS dflt, "
        f"CASE ks.k {' '.join(hits)} END AS hit "
        f"FROM base CROSS JOIN ks{join_levels}), "
        "ranked AS (SELECT g, k, delta, dflt, "
        "ROW_NUMBER() OVER (PARTITION BY g, k ORDER BY delta) AS rn, "
        "COUNT(*) OVER (PARTITION BY g, k) AS n FROM picked WHERE hit = 1) "
        "SELECT g, k, MAX(n), SUM(dflt), "
        f"MAX(CASE WHEN rn = {rank_sql(1, 2)} THEN delta END), "
        f"MAX(CASE WHEN rn = {rank_sql(9, 10)} THEN delta END) "
        "FROM ranked GROUP BY g, k"
    )
    return text, list(params)


def _execute(pop: Population, groups: Grouping | None) -> Counts:
    text, params = statement(pop, groups)
    with connections[pop.using].cursor() as cursor:
        cursor.execute(text, params)
        rows = cursor.fetchall()
    return {
        (g, int(k)): (int(n), int(dflt or 0), _int(median), _int(p90))
        for g, k, n, dflt, median, p90 in rows
    }


def _int(value: object) -> int | None:
    return None if value is None else int(value)


def _duration(value: int | None) -> timedelta | None:
    return None if value is None else timedelta(microseconds=value)


def _result(
    pop: Population,
    counts: Counts,
    group: object,
    computed_at: datetime,
    *,
    breakdown: str | None = None,
    groups: dict[str, FunnelResult] | None = None,
) -> FunnelResult:
    """The result of one group (``None``: everyone in a breakdown; ``0``: no breakdown)."""
    plan: FunnelPlan = pop.plan

    def get(k: int) -> tuple[int, int, int | None, int | None]:
        return counts.get((group, k), (0, 0, None, None))

    entered = get(ENTRY)[0]
    steps = []
    for step in plan.steps:
        reached, defaulted, median, p90 = get(step.index + 1)
        anchor = None if step.anchor is None else plan.steps[step.anchor]
        steps.append(
            StepResult(
                key=step.key,
                title=step.title,
                optional=step.optional,
                previous=anchor.key if anchor else None,
                reached=reached,
                previous_reached=get(anchor.index + 1)[0] if anchor else entered,
                entered=entered,
                defaulted=defaulted,
                median_time=_duration(median),
                p90_time=_duration(p90),
            )
        )
    finished, _, median, p90 = get(len(plan.steps) + 1)
    return FunnelResult(
        flow=plan.flow.key,
        ordered=plan.ordered,
        window_days=pop.query.effective_window_days,
        entered=entered,
        finished=finished,
        median_time_to_finish=_duration(median),
        p90_time_to_finish=_duration(p90),
        steps=steps,
        computed_at=computed_at,
        breakdown=breakdown,
        groups=groups or {},
    )
