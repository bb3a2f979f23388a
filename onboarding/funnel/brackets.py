"""Exact nearest-rank medians and p90s at scale without sorting every time (PostgreSQL).

``percentile_disc`` sorts every reached time of every step: at a million subjects those
sorts are most of the exact funnel's cost. Here a sample of the table's pages
(``TABLESAMPLE SYSTEM``) estimates where each rank lies; then one pass over every row
counts the funnel and, per rank, the times below a bracket around the estimate, and
collects the few times inside it. The value at the rank is read from the sorted bracket:
exact, as long as the rank falls inside it. When it does not (an unlucky sample), the
caller counts with the sorting statement instead, so the answer is always exact.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.db import connections
from django.db.backends.utils import CursorWrapper

from onboarding.funnel.pathmodel import FunnelPath
from onboarding.funnel.population import Population
from onboarding.funnel.sql import default_column
from onboarding.funnel.statements import ENTRY, Counts, _base, median_rank, p90_rank

# Percent of the table's pages sampled, and the fewest sampled rows worth a bracket
# (about half a million subjects): below that, sorting costs no more than the bracket's
# pass, whose JIT compilation alone takes about 0.3 s (measured at 127k, 252k, 416k, 1M).
SAMPLE_PERCENT = 10
MIN_SAMPLE = 50_000
# The planner's estimate of the population below which not even the sample is taken.
MIN_ESTIMATE = 300_000
# Bracket half-width in standard errors of the sampled rank (a miss costs a second pass).
SPREAD = 4.5
# Fractions at which the sample is read; a bracket's bounds are the nearest outside it.
GRID = tuple(i / 400 for i in range(120, 396))
RANKS = ((0.5, median_rank), (0.9, p90_rank))
# The main pass compiled, optimized and inlined whatever the planner's cost estimate:
# about a third faster at a million rows, compile time included.
JIT = (
    "jit = on",
    "jit_above_cost = 0",
    "jit_inline_above_cost = 0",
    "jit_optimize_above_cost = 0",
)


def _bound(fractions: tuple[float, ...], values: list[Any], target: float, *, low: bool) -> Any:
    """The sampled value at the grid fraction nearest ``target`` on the outer side."""
    if low:
        picked = [v for f, v in zip(fractions, values, strict=True) if f <= target]
        return picked[-1] if picked else None
    picked = [v for f, v in zip(fractions, values, strict=True) if f >= target]
    return picked[0] if picked else None


def _estimated_rows(pop: Population, cursor: CursorWrapper) -> float:
    """The planner's estimate of the population's rows: planned, not run (about 1 ms)."""
    text, params = pop.paths.order_by().query.get_compiler(using=pop.using).as_sql()
    cursor.execute(f"EXPLAIN (FORMAT JSON) {text}", params)
    plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return float(plan[0]["Plan"]["Plan Rows"])


def bracketed_counts(pop: Population, cursor: CursorWrapper) -> Counts | None:
    """The counts of ``pop`` (no breakdown) with exact percentiles, or ``None`` when the
    table is too small to gain or a rank fell outside its bracket."""
    if _estimated_rows(pop, cursor) < MIN_ESTIMATE:
        return None
    sql, base, params = _base(pop, None)
    plan = pop.plan
    targets: list[tuple[str, str, int | None]] = [
        (sql.reached(s.index), sql.delta(s.index), s.index) for s in plan.steps
    ]
    targets.append((sql.finished(), sql.finish_delta(), None))
    columns = [
        f"CASE WHEN {reached} THEN {delta} END AS x{k}"
        for k, (reached, delta, _i) in enumerate(targets)
    ]
    columns += [default_column(s.index) for s in plan.steps]
    rows = f"SELECT {', '.join(columns)} FROM ({base}) AS base"
    table = connections[pop.using].ops.quote_name(FunnelPath._meta.db_table)
    if rows.count(f"FROM {table}") != 1:
        return None
    sampled = rows.replace(f"FROM {table}", f"FROM {table} TABLESAMPLE SYSTEM ({SAMPLE_PERCENT})")
    grid = f"ARRAY[{', '.join(repr(f) for f in GRID)}]::float8[]"
    cursor.execute(
        "SELECT COUNT(*), "
        + ", ".join(
            f"COUNT(x{k}), percentile_disc({grid}) WITHIN GROUP (ORDER BY x{k})"
            for k in range(len(targets))
        )
        + f" FROM ({sampled}) AS s",
        params,
    )
    sample = cursor.fetchone()
    if sample is None or sample[0] < MIN_SAMPLE:
        return None
    aggregates = ["COUNT(*)"]
    brackets: list[list[tuple[Any, Any]]] = []
    for k, (_reached, _delta, index) in enumerate(targets):
        n, values = sample[1 + 2 * k], sample[2 + 2 * k]
        found = []
        for p, _rank in RANKS:
            spread = SPREAD * math.sqrt(p * (1 - p) / n) + 1 / n if n else 0
            found.append(
                (
                    _bound(GRID, values, p - spread, low=True) if n else None,
                    _bound(GRID, values, p + spread, low=False) if n else None,
                )
            )
        brackets.append(found)
        aggregates += _aggregates(f"x{k}", index, found)
    # OFFSET 0 keeps the subquery: each step's time is computed once per row, not once
    # per aggregate that reads it. The sample showed a large table: compiling the
    # expressions (JIT, about 0.3 s) pays for itself, where on small tables it would not.
    for setting in JIT:
        cursor.execute(f"SET LOCAL {setting}")
    cursor.execute(f"SELECT {', '.join(aggregates)} FROM ({rows} OFFSET 0) AS s", params)
    row = cursor.fetchone()
    cursor.execute("SET LOCAL jit = off")
    if row is None:
        return None
    duration = pop.dialect.duration
    counts: Counts = {(0, ENTRY): (int(row[0]), 0, None, None)}
    for k, found in enumerate(brackets, start=1):
        start = 1 + WIDTH * (k - 1)
        reached, defaulted, packed, values, *uptos = row[start : start + WIDTH]
        packed, inside = int(packed or 0), sorted(values or [])
        picked: list[Any] = []
        for r, ((_p, rank_of), (low, high)) in enumerate(zip(RANKS, found, strict=True)):
            if not reached:
                picked.append(None)
                continue
            below = (packed >> (32 * r)) & 0xFFFFFFFF
            if low is not None and low == high:
                kept, upto = [low], int(uptos[r])
            else:
                kept = [v for v in inside if _between(v, low, high)]
                upto = below + len(kept)
            rank = rank_of(int(reached))
            if not below < rank <= upto:
                return None  # outside the bracket: count again with sorts
            picked.append(kept[min(rank - below, len(kept)) - 1])
        counts[(0, k)] = (int(reached), int(defaulted), duration(picked[0]), duration(picked[1]))
    return counts


# Columns per step of the main pass: see _aggregates.
WIDTH = 4 + len(RANKS)


def _between(value: int, low: Any, high: Any) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def _aggregates(x: str, index: int | None, found: list[tuple[Any, Any]]) -> list[str]:
    """Reached, defaulted, the counts below each bracket (packed in 32 bits each, one sum
    for all), the times inside the brackets, and the count up to each one-value bracket.

    Few aggregates: each costs about as much as reading the rows again.
    """
    below = [
        f"(({x} < {int(low)})::int::bigint << {32 * r})"
        for r, (low, _high) in enumerate(found)
        if low is not None
    ]
    ranges = []
    uptos = []
    for low, high in found:
        if low is not None and low == high:
            uptos.append(f"COUNT(*) FILTER (WHERE {x} <= {int(high)})")
            continue
        uptos.append("0")
        limits = [f"{x} >= {int(low)}"] if low is not None else []
        limits += [f"{x} <= {int(high)}"] if high is not None else []
        ranges.append(" AND ".join(limits) or f"{x} IS NOT NULL")
    defaulted = f"{x} IS NOT NULL AND {default_column(index)} = 1" if index is not None else ""
    return [
        f"COUNT({x})",
        f"COUNT(*) FILTER (WHERE {defaulted})" if defaulted else "0",
        f"SUM({' + '.join(below)})" if below else "0",
        f"array_agg({x}) FILTER (WHERE {' OR '.join(f'({r})' for r in ranges)})"
        if ranges
        else "NULL",
        *uptos,
    ]
