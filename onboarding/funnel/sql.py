"""SQL for the funnel rules: the per-subject pivot and the reached conditions."""

from __future__ import annotations

from itertools import pairwise

from django.db import NotSupportedError, connections
from django.db.models import QuerySet

from onboarding.funnel.dialects import Dialect
from onboarding.funnel.plan import FunnelPlan
from onboarding.models import Outcome, Progress, StepState

# Step i's "defaulted" flag is bit i of a 64-bit integer.
MAX_STEPS = 62


def time_column(index: int) -> str:
    return f"t{index}"


def default_column(index: int) -> str:
    return f"d{index}"


def pivot(
    plan: FunnelPlan,
    progress: QuerySet[Progress],
    fields: tuple[str, ...],
    dialect: Dialect,
    using: str,
) -> tuple[str, list[object]]:
    """SQL giving one row per subject: ``id``, ``fields``, ``e``, ``t<i>`` and ``dm``.

    ``e`` is the entry and ``t<i>`` step i's first completion (NULL if none), as the
    dialect's time values; ``dm`` has bit i set when that completion was
    ``defaulted`` (one aggregate for all steps is much cheaper than one per step).
    ``progress`` supplies the filters, as a derived table both backends flatten.
    """
    if len(plan.steps) > MAX_STEPS:
        raise NotSupportedError(
            f"The funnel of flow {plan.flow.key!r} has {len(plan.steps)} steps; "
            f"at most {MAX_STEPS} are supported."
        )
    quote = connections[using].ops.quote_name
    inner_sql, inner_params = (
        progress.order_by()
        .values("id", "entered_at", *fields)
        .query.get_compiler(using=using)
        .as_sql()
    )
    meta = StepState._meta
    progress_id, step_key, outcome, completed_at = (
        quote(meta.get_field(name).column)
        for name in ("progress", "step_key", "outcome", "completed_at")
    )
    keys = [step.key for step in plan.steps]
    completed = dialect.time(f"s.{completed_at}")
    times = [
        f"MAX(CASE WHEN s.{step_key} = %s THEN {completed} END) AS {time_column(index)}"
        for index in range(len(keys))
    ]
    bits = " ".join(f"WHEN %s THEN {1 << index}" for index in range(len(keys)))
    mask = f"SUM(CASE WHEN s.{outcome} = %s THEN CASE s.{step_key} {bits} ELSE 0 END END) AS dm"
    columns = ["p.id", *(f"p.{quote(field)}" for field in fields)]
    entered = f"p.{quote('entered_at')}"
    # SQLite allows the progress columns beside GROUP BY id (they depend on it);
    # PostgreSQL only does so for a base table's key, not a derived table's.
    group_by = [*columns, entered] if dialect.vendor == "postgresql" else columns[:1]
    sql = (
        f"SELECT {', '.join(columns)}, {dialect.time(entered)} AS e, "
        f"{', '.join(times)}, {mask} "
        f"FROM ({inner_sql}) AS p LEFT JOIN {quote(meta.db_table)} AS s "
        f"ON s.{progress_id} = p.id GROUP BY {', '.join(group_by)}"
    )
    return sql, [*keys, Outcome.DEFAULTED.value, *keys, *inner_params]


class FunnelSQL:
    """SQL expressions of the funnel rules over the windowed pivot columns.

    ``t<i>`` holds step i's time, already NULL when it lies outside the conversion
    window; ``e`` holds the entry time.
    """

    def __init__(self, plan: FunnelPlan, dialect: Dialect) -> None:
        self.plan = plan
        self.dialect = dialect

    def base(self, pivot_sql: str, passthrough: list[str], group_sql: str, window_us: int) -> str:
        """A SELECT over the pivot giving ``g`` (the group), ``e``, windowed ``t<i>``, ``d<i>``.

        ``passthrough`` names pivot columns kept as they are; ``group_sql`` may use ``e``.
        """
        columns = [*passthrough, "e", f"{group_sql} AS g"]
        for step in self.plan.steps:
            column, default = time_column(step.index), default_column(step.index)
            inside = self.dialect.within(column, "e", window_us)
            columns += [
                f"CASE WHEN {inside} THEN {column} END AS {column}",
                f"(COALESCE(dm, 0) / {1 << step.index}) %% 2 AS {default}",
            ]
        return f"SELECT {', '.join(columns)} FROM ({pivot_sql}) AS pivot"

    def reached(self, index: int) -> str:
        """SQL that is true when the subject reached step ``index``."""
        chain = self.plan.chain(index)
        parts = [f"{time_column(chain[0])} IS NOT NULL"]
        for before, after in pairwise(chain):
            parts.append(f"{time_column(after)} >= {time_column(before)}")
        return " AND ".join(parts)

    def since(self, index: int) -> str:
        """SQL for when the subject started waiting for step ``index``: its anchor's time."""
        anchor = self.plan.steps[index].anchor
        return "e" if anchor is None else time_column(anchor)

    def delta(self, index: int) -> str:
        """The time step ``index`` took, from its anchor (or entry)."""
        return f"{time_column(index)} - {self.since(index)}"

    def anchor_reached(self, index: int) -> str:
        anchor = self.plan.steps[index].anchor
        return "1 = 1" if anchor is None else self.reached(anchor)

    def finished(self) -> str:
        required = self.plan.required
        if not required:
            return "1 = 1"
        if self.plan.ordered:
            return self.reached(required[-1])
        return " AND ".join(f"{time_column(index)} IS NOT NULL" for index in required)

    def finish_delta(self) -> str:
        required = [time_column(index) for index in self.plan.required]
        if not required:
            return "e - e"
        return f"{self.dialect.greatest(required)} - e"

    @staticmethod
    def flag(condition: str) -> str:
        """0/1 for a condition, so that NULL comparisons count as false."""
        return f"CASE WHEN {condition} THEN 1 ELSE 0 END"
