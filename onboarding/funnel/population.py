"""Who is counted: the filtered funnel path rows of a query, and how they are grouped."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from django.db import router
from django.db.models import QuerySet
from django.utils import timezone

from onboarding.funnel.dialects import Dialect, dialect_for
from onboarding.funnel.pathmodel import FunnelPath
from onboarding.funnel.plan import FunnelPlan, version_plans
from onboarding.funnel.query import FunnelQuery
from onboarding.funnel.timeutil import (
    DAY_US,
    day_end_us,
    local_day_of_us,
    local_midnight,
    to_us,
    weeks_between,
)
from onboarding.models import FlowRecord, FlowVersion


@dataclass(frozen=True)
class Grouping:
    """How rows are split for a breakdown: SQL for the raw group, and its display key."""

    sql: str
    key: Callable[[Any], str]
    known: tuple[str, ...] = ()
    order: Callable[[str], Any] = str


@dataclass
class Population:
    """The subjects a query counts: their filtered funnel path rows.

    ``query`` is the query as counted: for a breakdown by entry week, its range cut to
    the data (:meth:`FunnelQuery.entry_range`).

    ``version_steps`` holds the step keys of every version of the flow, by version id:
    a path row's step columns follow its version's steps. ``plan`` holds the steps
    counted (the declared ones, then those only older versions have), ``shown`` the
    declared steps' plan and ``version_plans`` each version's own (``None``: all
    versions have the declared steps); see :class:`~onboarding.funnel.plan.VersionPlans`.
    """

    query: FunnelQuery
    plan: FunnelPlan
    using: str
    dialect: Dialect
    window_us: int
    record: FlowRecord | None
    paths: QuerySet[FunnelPath]
    version_numbers: dict[int, int] = field(default_factory=dict)
    version_steps: dict[int, list[str]] = field(default_factory=dict)
    matches_nothing: bool = False
    shown: FunnelPlan | None = None
    version_plans: dict[int, FunnelPlan] | None = None
    outside_data: bool = False

    def plan_of(self, version_id: object) -> FunnelPlan:
        """The steps a version's subjects are shown against (the declared ones by default)."""
        shown = self.shown or self.plan
        if self.version_plans is None or not isinstance(version_id, int):
            return shown
        return self.version_plans.get(version_id, shown)

    @property
    def empty(self) -> bool:
        """Nobody can be counted: no flow record yet, a version filter of unknown numbers, or
        a breakdown by entry week whose range misses the data (``outside_data``)."""
        return self.record is None or self.matches_nothing or self.outside_data


def population(query: FunnelQuery) -> Population:
    """Resolve the flow record, versions and filters of ``query`` (two small queries; two
    index lookups more for a breakdown by entry week, whose range is cut to the data)."""
    using = query.using or router.db_for_read(FunnelPath)
    record = FlowRecord.objects.using(using).filter(key=query.flow).first()
    versions = (
        FlowVersion.objects.using(using).filter(flow=record).values_list("pk", "number", "steps")
        if record
        else []
    )
    numbers = {pk: number for pk, number, _steps in versions}
    stored = {pk: steps for pk, _number, steps in versions}
    steps = {pk: [step["key"] for step in keys] for pk, keys in stored.items()}
    plans = version_plans(query.declaration, stored)
    paths = (
        FunnelPath.objects.using(using).filter(flow=record) if record else FunnelPath.objects.none()
    )
    outside_data = False
    if query.breakdown == "entry_week":
        # Weeks are built for the range counted, so its cost follows the data: the
        # range asked (open or 950 years wide) within the flow's first and last entry.
        counted = query.entry_range(FlowEntryDays(paths), today=timezone.localdate())
        if counted is None:
            outside_data = True
        else:
            query = replace(query, entered_from=counted.first, entered_to=counted.last)
    if query.entered_from:
        paths = paths.filter(entered__gte=to_us(local_midnight(query.entered_from)))
    end = day_end_us(query.entered_to) if query.entered_to else None
    if end is not None:
        paths = paths.filter(entered__lt=end)
    if query.variants:
        paths = paths.filter(variant__in=query.variants)
    version_ids = [pk for pk, number in numbers.items() if number in set(query.versions)]
    if query.versions:
        paths = paths.filter(version_id__in=version_ids)
    return Population(
        query=query,
        plan=plans.counted,
        using=using,
        dialect=dialect_for(using),
        window_us=query.effective_window_days * DAY_US,
        record=record,
        paths=paths,
        version_numbers=numbers,
        version_steps=steps,
        matches_nothing=bool(query.versions) and not version_ids,
        shown=plans.shown,
        version_plans=plans.versions,
        outside_data=outside_data,
    )


@dataclass(frozen=True)
class FlowEntryDays:
    """:class:`~onboarding.funnel.query.EntryDays` of a flow's path rows: one lookup on
    the (flow, entered) index per call."""

    paths: QuerySet[FunnelPath]

    def first(self, on_or_after: date | None = None) -> date | None:
        rows = self.paths
        if on_or_after is not None:
            rows = rows.filter(entered__gte=to_us(local_midnight(on_or_after)))
        found = rows.order_by("entered").values_list("entered", flat=True).first()
        return None if found is None else local_day_of_us(found)

    def last(self, on_or_before: date | None = None) -> date | None:
        rows = self.paths
        end = None if on_or_before is None else day_end_us(on_or_before)
        if end is not None:
            rows = rows.filter(entered__lt=end)
        found = rows.order_by("-entered").values_list("entered", flat=True).first()
        return None if found is None else local_day_of_us(found)


def grouping(pop: Population) -> Grouping | None:
    """The breakdown of ``pop``'s query, or ``None`` without one."""
    query = pop.query
    if query.breakdown == "variant":
        known = query.variants or tuple(query.declaration.variants)
        return Grouping(sql="variant", key=str, known=tuple(known))
    if query.breakdown == "version":
        numbers = pop.version_numbers
        return Grouping(
            sql="version_id",
            key=lambda raw: str(numbers[int(raw)]),
            known=tuple(str(number) for number in query.versions),
            order=int,
        )
    if query.breakdown == "entry_week":
        return _weeks(pop)
    return None


def _weeks(pop: Population) -> Grouping:
    """Entry weeks (Monday to Sunday, local time) over the entry time ``e``: the index of
    the week, by ``width_bucket`` (PostgreSQL) or a CASE (SQLite).

    Boundaries are computed here, in Python, so that time zones with daylight saving
    time split weeks at local midnight on both backends.
    """
    query = pop.query
    first, last = query.entered_from, query.entered_to
    # population() set both ends from the data, or found none in the range asked.
    weeks = [] if pop.outside_data or not first or not last else weeks_between(first, last)
    if not weeks:
        return Grouping(sql="0", key=str)
    starts = [
        pop.dialect.instant(local_midnight(monday + timedelta(days=7))) for monday in weeks[:-1]
    ]
    if starts and pop.dialect.vendor == "postgresql":
        # A binary search per row, where the CASE below tries every boundary in turn.
        return Grouping(
            sql=f"width_bucket(e, ARRAY[{', '.join(starts)}]::bigint[])",
            key=lambda raw: weeks[int(raw)].isoformat(),
            known=tuple(monday.isoformat() for monday in weeks),
        )
    branches = " ".join(f"WHEN e < {start} THEN {index}" for index, start in enumerate(starts))
    sql = f"CASE {branches} ELSE {len(weeks) - 1} END" if branches else "0"
    return Grouping(
        sql=sql,
        key=lambda raw: weeks[int(raw)].isoformat(),
        known=tuple(monday.isoformat() for monday in weeks),
    )
