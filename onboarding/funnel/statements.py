"""The one statement that counts a funnel, in the form each database runs best.

Both forms count, per group and per step, who reached it, who defaulted, and the
nearest-rank median and p90 of the time it took. The result is keyed by
``(group, k)`` where k is 0 for entry, i + 1 for step i and ``len(steps) + 1`` for
finishing; the group is ``None`` for everyone when there is a breakdown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from onboarding.funnel.population import Grouping, Population
from onboarding.funnel.sql import FunnelSQL, default_column, path_select

Count = tuple[int, int, timedelta | None, timedelta | None]
Counts = dict[tuple[object, int], Count]
Parse = Callable[[Sequence[Sequence[object]]], Counts]

ENTRY = 0
# Nearest rank ceil(p * n) as integer SQL over the count n.
MEDIAN_RANK = "((n + 1) / 2)"
P90_RANK = "((9 * n + 9) / 10)"
# PostgreSQL's percentile_disc takes row ceil(fraction * n) in double precision. That is
# the exact nearest rank here: 0.5 is exact, and 0.9's representation error (2.5e-17,
# relative) is below half an ulp of the product, so 9n/10 never rounds past an integer.
PERCENTILES = "ARRAY[0.5, 0.9]::float8[]"


def count(pop: Population, groups: Grouping | None) -> Counts:
    build = ordered_set_statement if pop.dialect.vendor == "postgresql" else window_statement
    text, params, parse = build(pop, groups)
    with pop.dialect.cursor(pop.using) as cursor:
        cursor.execute(text, params)
        return parse(cursor.fetchall())


def _base(pop: Population, groups: Grouping | None) -> tuple[FunnelSQL, str, list[object]]:
    sql = FunnelSQL(pop.plan, pop.dialect)
    fields = ("variant", "version_id")
    rows_sql, params = path_select(pop, fields)
    base = sql.base(rows_sql, list(fields), groups.sql if groups else "0", pop.window_us)
    return sql, base, params


def window_statement(pop: Population, groups: Grouping | None) -> tuple[str, list[object], Parse]:
    """Unpivot (subject x step) rows and rank them with window functions (SQLite)."""
    sql, base, params = _base(pop, groups)
    plan = pop.plan
    finish = len(plan.steps) + 1
    deltas, defaults, hits = [f"WHEN {ENTRY} THEN 0"], [], [f"WHEN {ENTRY} THEN 1"]
    for step in plan.steps:
        k = step.index + 1
        deltas.append(f"WHEN {k} THEN {sql.delta(step.index)}")
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
        f"MAX(CASE WHEN rn = {MEDIAN_RANK} THEN delta END), "
        f"MAX(CASE WHEN rn = {P90_RANK} THEN delta END) "
        "FROM ranked GROUP BY g, k"
    )
    duration = pop.dialect.duration

    def parse(rows: Sequence[Sequence[object]]) -> Counts:
        return {
            (g, int(k)): (int(n), int(dflt or 0), duration(median), duration(p90))
            for g, k, n, dflt, median, p90 in rows
        }

    return text, params, parse


def ordered_set_statement(
    pop: Population, groups: Grouping | None
) -> tuple[str, list[object], Parse]:
    """One row per group with FILTERed counts and ordered-set percentiles (PostgreSQL).

    Each percentile sorts only its own step's times, and ``GROUPING SETS`` counts
    everyone and each group in the same pass.
    """
    sql, base, params = _base(pop, groups)
    columns = ["COUNT(*)"]
    for step in pop.plan.steps:
        reached = sql.reached(step.index)
        columns += [
            f"COUNT(*) FILTER (WHERE {reached})",
            f"COUNT(*) FILTER (WHERE {reached} AND {default_column(step.index)} = 1)",
            f"percentile_disc({PERCENTILES}) WITHIN GROUP (ORDER BY {sql.delta(step.index)}) "
            f"FILTER (WHERE {reached})",
        ]
    finished = sql.finished()
    columns += [
        f"COUNT(*) FILTER (WHERE {finished})",
        "0",
        f"percentile_disc({PERCENTILES}) WITHIN GROUP (ORDER BY {sql.finish_delta()}) "
        f"FILTER (WHERE {finished})",
    ]
    group_by = "GROUPING SETS ((), (g))" if groups else "g"
    text = f"WITH base AS ({base}) SELECT g, {', '.join(columns)} FROM base GROUP BY {group_by}"
    duration = pop.dialect.duration
    finish = len(pop.plan.steps) + 1

    def parse(rows: Sequence[Sequence[object]]) -> Counts:
        counts: Counts = {}
        for row in rows:
            g, entered = row[0], int(row[1])
            counts[(g, ENTRY)] = (entered, 0, None, None)
            for k in range(1, finish + 1):
                reached, defaulted, percentiles = row[3 * k - 1 : 3 * k + 2]
                median, p90 = percentiles or (None, None)
                counts[(g, k)] = (int(reached), int(defaulted), duration(median), duration(p90))
        return counts

    return text, params, parse
