"""SQL text for the funnel: vendor snippets and the per-subject pivot.

Times are compared as integer microseconds since the Unix epoch, because interval
arithmetic differs between backends (and SQLite's is done in Python, row by row).
Only PostgreSQL and SQLite are supported.
"""

from __future__ import annotations

from itertools import pairwise

from django.db import NotSupportedError, connections
from django.db.models import Case, IntegerField, Max, Q, QuerySet, Value, When

from onboarding.funnel.plan import FunnelPlan
from onboarding.models import Outcome, Progress

SUPPORTED_VENDORS = ("postgresql", "sqlite")


def vendor(using: str) -> str:
    name = connections[using].vendor
    if name not in SUPPORTED_VENDORS:
        raise NotSupportedError(
            f"The onboarding funnel supports PostgreSQL and SQLite, not {name!r} "
            f"(database alias {using!r})."
        )
    return name


def epoch_us(column: str, vendor_name: str) -> str:
    """SQL for a datetime column as integer microseconds since the epoch (NULL stays NULL)."""
    if vendor_name == "postgresql":
        return f"CAST(EXTRACT(EPOCH FROM {column}) * 1000000 AS BIGINT)"
    # Django stores 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC: whole seconds from strftime,
    # microseconds from the text after the dot (padded, as it may be absent). The
    # statement is always run with a parameter list, so '%%' reaches SQLite as '%'.
    return (
        f"(CAST(strftime('%%s', {column}) AS INTEGER) * 1000000"
        f" + CAST(substr(substr({column}, 21) || '000000', 1, 6) AS INTEGER))"
    )


def greatest(columns: list[str], vendor_name: str) -> str:
    if len(columns) == 1:
        return columns[0]
    # SQLite's multi-argument max() is its scalar GREATEST.
    name = "GREATEST" if vendor_name == "postgresql" else "max"
    return f"{name}({', '.join(columns)})"


def rank_sql(numerator: int, denominator: int) -> str:
    """The 1-based nearest rank ``ceil(n * numerator / denominator)`` in integer SQL."""
    return f"(({numerator} * n + {denominator - 1}) / {denominator})"


def time_column(index: int) -> str:
    return f"t{index}"


def default_column(index: int) -> str:
    return f"d{index}"


def pivot_queryset(
    plan: FunnelPlan, progress: QuerySet[Progress], fields: tuple[str, ...]
) -> QuerySet[Progress]:
    """One row per subject: ``fields``, then ``t<i>`` (first completion of step i, a
    datetime or NULL) and ``d<i>`` (1 when that completion was ``defaulted``)."""
    annotations = {}
    for step in plan.steps:
        on_step = Q(step_states__step_key=step.key)
        annotations[time_column(step.index)] = Max("step_states__completed_at", filter=on_step)
        annotations[default_column(step.index)] = Max(
            Case(
                When(on_step & Q(step_states__outcome=Outcome.DEFAULTED), then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
    return progress.values("pk", *fields).annotate(**annotations).order_by()


class FunnelSQL:
    """Boolean and numeric SQL expressions over the windowed pivot columns.

    ``t<i>`` holds step i's time in microseconds, already NULL when it lies outside
    the conversion window; ``e`` holds the entry time.
    """

    def __init__(self, plan: FunnelPlan, vendor_name: str) -> None:
        self.plan = plan
        self.vendor = vendor_name

    def base(self, pivot_sql: str, passthrough: list[str], group_sql: str, window_us: int) -> str:
        """A SELECT over the pivot giving ``g`` (the group), ``e``, windowed ``t<i>``, ``d<i>``.

        ``passthrough`` names pivot columns kept as they are; ``group_sql`` may use ``e``.
        """
        raw = [*passthrough, f"{epoch_us('entered_at', self.vendor)} AS e"]
        windowed = [*passthrough, "e", f"{group_sql} AS g"]
        for step in self.plan.steps:
            column, default = time_column(step.index), default_column(step.index)
            raw += [f"{epoch_us(column, self.vendor)} AS {column}", default]
            windowed += [
                f"CASE WHEN {column} - e <= {int(window_us)} THEN {column} END AS {column}",
                default,
            ]
        return (
            f"SELECT {', '.join(windowed)} FROM "
            f"(SELECT {', '.join(raw)} FROM ({pivot_sql}) AS pivot) AS x"
        )

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
            return "0"
        return f"{greatest(required, self.vendor)} - e"

    @staticmethod
    def flag(condition: str) -> str:
        """0/1 for a condition, so that NULL comparisons count as false."""
        return f"CASE WHEN {condition} THEN 1 ELSE 0 END"
