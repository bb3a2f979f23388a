"""The one statement that counts a funnel, in the form each database runs best.

Both forms count, per group and per step, who reached it, who defaulted, and the
nearest-rank median and p90 of the time it took. The result is keyed by
``(group, k)`` where k is 0 for entry, i + 1 for step i and ``len(steps) + 1`` for
finishing; the group is ``None`` for everyone when there is a breakdown.

PostgreSQL counts and ranks in the statement (ordered-set aggregates). SQLite has
none, and its window functions sort every (subject, step) pair slower than Python
sorts the same integers: there the statement gives, per group and step, the times of
everyone who reached it as one text, and Python ranks them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db.backends.utils import CursorWrapper

from onboarding.funnel.population import Grouping, Population
from onboarding.funnel.sql import FunnelSQL, default_column, path_select

Count = tuple[int, int, timedelta | None, timedelta | None]
Counts = dict[tuple[object, int], Count]
# Reads the statement's rows from the cursor it ran on.
Parse = Callable[[CursorWrapper], Counts]

ENTRY = 0
# PostgreSQL's percentile_disc takes row ceil(fraction * n) in double precision. That is
# the exact nearest rank here: 0.5 is exact, and 0.9's representation error (2.5e-17,
# relative) is below half an ulp of the product, so 9n/10 never rounds past an integer.
PERCENTILES = "ARRAY[0.5, 0.9]::float8[]"


def count(pop: Population, groups: Grouping | None, *, detail: bool = True) -> Counts:
    """Count ``pop`` per group and step; ``detail=False``: reached counts only (no
    medians, p90s or defaulted counts), for a fraction of the cost."""
    build = ordered_set_statement if pop.dialect.vendor == "postgresql" else ranked_in_python
    text, params, parse = build(pop, groups, detail)
    hashed = pop.dialect.vendor == "postgresql" and groups is not None and not detail
    with pop.dialect.cursor(pop.using) as cursor:
        if hashed:
            # The planner cannot know that an expression over the entry time has few
            # values, and would sort every row to group them: hashing a few groups is
            # far cheaper. Set for this statement only.
            cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(text, params)
        counts = parse(cursor)
        if hashed:
            cursor.execute("SET LOCAL enable_sort TO DEFAULT")
        return counts


def median_rank(n: int) -> int:
    """The nearest rank ``ceil(n / 2)`` (1-based)."""
    return (n + 1) // 2


def p90_rank(n: int) -> int:
    """The nearest rank ``ceil(9 n / 10)`` (1-based), in integers (no rounding)."""
    return (9 * n + 9) // 10


def _base(pop: Population, groups: Grouping | None) -> tuple[FunnelSQL, str, list[Any]]:
    sql = FunnelSQL(pop.plan, pop.dialect, pop.window_us, pop.version_plans)
    fields = ("variant", "version_id")
    rows_sql, params = path_select(pop, fields)
    base = sql.base(rows_sql, list(fields), groups.sql if groups else "0")
    return sql, base, params


def ranked_in_python(
    pop: Population, groups: Grouping | None, detail: bool = True
) -> tuple[str, list[Any], Parse]:
    """One row per group: how many entered and, per step, the codes ``2 * time +
    defaulted`` of everyone who reached it as one text (``group_concat``); Python sorts
    them and picks the nearest ranks (SQLite). ``detail=False``: counts only.

    Times are never negative (a chain is non-decreasing and starts at entry), and
    doubling keeps their order, so the sorted codes give the sorted times. One text per
    step, not one row per subject: SQLite builds it in C and ``json`` parses it in C,
    which at 100k subjects takes about half the time of fetching a row object per
    subject and transposing the rows in Python (bench/README.md). One aggregate per
    step, too, because SQLite evaluates a flattened subquery's expression again for
    every aggregate that uses it.
    """
    sql, base, params = _base(pop, groups)
    measured = [
        (sql.reached(step.index), f"({sql.delta(step.index)}) * 2 + {default_column(step.index)}")
        for step in pop.plan.steps
    ]
    measured.append((sql.finished(), f"({sql.finish_delta()}) * 2"))
    if detail:
        columns = [
            f"group_concat(CASE WHEN {reached} THEN {code} END)" for reached, code in measured
        ]
    else:
        columns = [f"COUNT(CASE WHEN {reached} THEN 1 END)" for reached, _code in measured]
    text = f"SELECT g, COUNT(*), {', '.join(columns)} FROM ({base}) AS base GROUP BY g"
    duration = pop.dialect.duration
    finish = len(measured)

    def ranked(k: int, codes: list[int]) -> Count:
        n = len(codes)
        if not n:
            return (0, 0, None, None)
        codes.sort()
        # Finishing has no defaulted bit to count.
        defaulted = sum(code & 1 for code in codes) if k != finish else 0
        median, p90 = codes[median_rank(n) - 1] >> 1, codes[p90_rank(n) - 1] >> 1
        return (n, defaulted, duration(median), duration(p90))

    def parse(cursor: CursorWrapper) -> Counts:
        counts: Counts = {}
        # Everyone, when there is a breakdown: the sum of the groups.
        entered_total = 0
        merged: list[list[int]] = [[] for _ in measured]
        reached_total = [0] * len(measured)
        for g, entered, *steps in cursor.fetchall():
            counts[(g, ENTRY)] = (entered, 0, None, None)
            entered_total += entered
            for k, step in enumerate(steps, start=1):
                if not detail:
                    counts[(g, k)] = (step, 0, None, None)
                    reached_total[k - 1] += step
                    continue
                codes: list[int] = json.loads(f"[{step}]") if step else []
                if groups:
                    merged[k - 1] += codes
                counts[(g, k)] = ranked(k, codes)
        if groups:
            counts[(None, ENTRY)] = (entered_total, 0, None, None)
            for k, (codes, reached) in enumerate(zip(merged, reached_total, strict=True), 1):
                counts[(None, k)] = ranked(k, codes) if detail else (reached, 0, None, None)
        return counts

    return text, params, parse


def ordered_set_statement(
    pop: Population, groups: Grouping | None, detail: bool = True
) -> tuple[str, list[Any], Parse]:
    """One row per group with FILTERed counts and ordered-set percentiles (PostgreSQL).

    Each percentile sorts only its own step's times, and ``GROUPING SETS`` counts
    everyone and each group in the same pass.
    """
    sql, base, params = _base(pop, groups)

    def percentiles(delta: str, reached: str) -> str:
        if not detail:
            return "NULL"
        return (
            f"percentile_disc({PERCENTILES}) WITHIN GROUP (ORDER BY {delta}) "
            f"FILTER (WHERE {reached})"
        )

    columns = ["COUNT(*)"]
    for step in pop.plan.steps:
        reached = sql.reached(step.index)
        columns += [
            f"COUNT(*) FILTER (WHERE {reached})",
            f"COUNT(*) FILTER (WHERE {reached} AND {default_column(step.index)} = 1)"
            if detail
            else "0",
            percentiles(sql.delta(step.index), reached),
        ]
    finished = sql.finished()
    columns += [
        f"COUNT(*) FILTER (WHERE {finished})",
        "0",
        percentiles(sql.finish_delta(), finished),
    ]
    # Counts add up: without detail, everyone is the sum of the groups, and a plain GROUP
    # BY hashes where GROUPING SETS would sort every row.
    group_by = "GROUPING SETS ((), (g))" if groups and detail else "g"
    text = f"WITH base AS ({base}) SELECT g, {', '.join(columns)} FROM base GROUP BY {group_by}"
    duration = pop.dialect.duration
    finish = len(pop.plan.steps) + 1

    def parse(cursor: CursorWrapper) -> Counts:
        counts: Counts = {}
        for row in cursor.fetchall():
            g, entered = row[0], int(row[1])
            counts[(g, ENTRY)] = (entered, 0, None, None)
            for k in range(1, finish + 1):
                reached, defaulted, percentiles = row[3 * k - 1 : 3 * k + 2]
                median, p90 = percentiles or (None, None)
                counts[(g, k)] = (int(reached), int(defaulted), duration(median), duration(p90))
        if groups and not detail:
            for k in range(finish + 1):
                parts = [count for (g, step), count in counts.items() if step == k]
                total = sum(part[0] for part in parts), sum(part[1] for part in parts)
                counts[(None, k)] = (*total, None, None)
        return counts

    return text, params, parse
