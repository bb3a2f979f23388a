"""Stuck subjects: who reached the step before a step but not the step itself."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Literal

from django.db import connections
from django.utils import timezone

from onboarding.funnel.population import population
from onboarding.funnel.query import FunnelQuery
from onboarding.funnel.sql import FunnelSQL, path_select
from onboarding.models import Progress

Where = Literal["inside", "past"]
FIELDS = ("variant", "version_id")


@dataclass(frozen=True)
class StuckSubject:
    """A subject waiting for a step since ``waiting_since`` (its previous step, or entry).

    ``inside_window`` is true while the step could still count (``now - entry`` is
    within the conversion window): people to nudge rather than to win back.
    """

    subject_type_id: int
    subject_id: str
    label: str
    variant: str
    version: int | None
    entered_at: datetime
    waiting_since: datetime
    waited: timedelta
    inside_window: bool


@dataclass(frozen=True)
class StuckPage:
    """One page of stuck subjects, longest waiting first, with the totals of both kinds."""

    flow: str
    step: str
    previous: str | None
    now: datetime
    window_days: int
    inside: int
    past: int
    page: int
    page_size: int | None
    subjects: list[StuckSubject]
    where: Where | None = None

    @property
    def total(self) -> int:
        """How many match ``where`` (all stuck subjects without it)."""
        return {"inside": self.inside, "past": self.past}.get(
            self.where or "", self.inside + self.past
        )

    @property
    def pages(self) -> int:
        if not self.page_size:
            return 1
        return max(1, -(-self.total // self.page_size))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def stuck_subjects(
    flow: str,
    step: str,
    *,
    entered_from: date | None = None,
    entered_to: date | None = None,
    window_days: int | None = None,
    variants: tuple[str, ...] = (),
    versions: tuple[int, ...] = (),
    where: Where | None = None,
    now: datetime | None = None,
    page: int = 1,
    page_size: int | None = 50,
    using: str | None = None,
) -> StuckPage:
    """Subjects of ``flow`` who reached the step before ``step`` but not ``step``.

    The same population and rules as :class:`FunnelQuery` (so ``inside + past`` equals
    the step's drop-off). ``where`` keeps only those still inside the window or past
    it; ``page_size=None`` returns every subject (for CSV export).
    """
    query = FunnelQuery(
        flow=flow,
        entered_from=entered_from,
        entered_to=entered_to,
        window_days=window_days,
        variants=variants,
        versions=versions,
        using=using,
    )
    if where not in (None, "inside", "past"):
        raise ValueError(f"where must be 'inside', 'past' or None, not {where!r}.")
    if page < 1 or (page_size is not None and page_size < 1):
        raise ValueError(f"page ({page}) and page_size ({page_size}) must be at least 1.")
    pop = population(query)
    target = pop.plan.step(step)  # UnknownStep names the key
    now = now or timezone.now()
    anchor = None if target.anchor is None else pop.plan.steps[target.anchor].key
    empty = StuckPage(
        flow=flow,
        step=step,
        previous=anchor,
        now=now,
        window_days=query.effective_window_days,
        inside=0,
        past=0,
        page=page,
        page_size=page_size,
        subjects=[],
        where=where,
    )
    if pop.empty:
        return empty

    dialect = pop.dialect
    sql = FunnelSQL(pop.plan, dialect, pop.window_us, pop.version_plans)
    rows_sql, params = path_select(pop, FIELDS)
    base = sql.base(rows_sql, ["id", *FIELDS], "0")
    inside = dialect.within(dialect.instant(now), "e", pop.window_us)
    stuck = (
        f"FROM ({base}) AS base WHERE {sql.flag(sql.anchor_reached(target.index))} = 1 "
        f"AND {sql.flag(sql.reached(target.index))} = 0"
    )
    counts_sql = f"SELECT COUNT(*), SUM({sql.flag(inside)}) {stuck}"
    filtered = stuck + {"inside": f" AND {inside}", "past": f" AND NOT ({inside})"}.get(
        where or "", ""
    )
    since = sql.since(target.index)
    candidates, list_params = (
        f"SELECT id, variant, version_id, e, {since} AS since {filtered}",
        [*params],
    )
    limit = ""
    if page_size is not None:
        offset = (page - 1) * page_size
        limit = f" LIMIT {int(page_size)} OFFSET {offset}"
        # Only rows waiting no longer than the page's last one (ties included) can be on
        # the page: the names are read for those, not for every stuck subject.
        if dialect.vendor == "postgresql":
            # One scan keeping the first rows, and those tied with the last, in a heap.
            candidates += f" ORDER BY since FETCH FIRST {offset + page_size} ROWS WITH TIES"
        else:
            last = f"(SELECT {since} {filtered} ORDER BY 1 LIMIT 1 OFFSET {page * page_size - 1})"
            candidates += f" AND {since} <= COALESCE({last}, {since})"
            list_params = [*params, *params]
    quote = connections[pop.using].ops.quote_name
    list_sql = (
        "SELECT p.subject_type_id, p.subject_id, p.subject_label, b.variant, b.version_id, "
        f"b.e, b.since FROM ({candidates}) AS b JOIN {quote(Progress._meta.db_table)} AS p "
        f"ON p.id = b.id ORDER BY b.since, p.subject_type_id, p.subject_id{limit}"
    )
    with dialect.cursor(pop.using) as cursor:
        cursor.execute(counts_sql, list(params))
        total, inside_count = cursor.fetchone()
        cursor.execute(list_sql, list_params)
        rows = cursor.fetchall()
    window = timedelta(microseconds=pop.window_us)
    subjects = []
    for type_id, subject_id, label, variant, version_id, entered, since in rows:
        entered_at, waiting_since = dialect.datetime(entered), dialect.datetime(since)
        subjects.append(
            StuckSubject(
                subject_type_id=int(type_id),
                subject_id=str(subject_id),
                label=label,
                variant=variant,
                version=pop.version_numbers.get(version_id),
                entered_at=entered_at,
                waiting_since=waiting_since,
                waited=now - waiting_since,
                inside_window=now - entered_at <= window,
            )
        )
    inside_count = int(inside_count or 0)
    return replace(empty, inside=inside_count, past=int(total) - inside_count, subjects=subjects)
