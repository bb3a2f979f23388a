"""The cohort table: conversion to each step by week of entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from onboarding.funnel.query import FunnelQuery
from onboarding.funnel.result import rate
from onboarding.funnel.runner import run_funnel
from onboarding.funnel.timeutil import local_midnight


@dataclass(frozen=True)
class CohortRow:
    """Subjects who entered in the week starting ``week`` (a Monday, local time).

    ``final`` is true once every entrant's conversion window has closed: the row
    will not change any more.
    """

    week: date
    entered: int
    reached: tuple[int, ...]
    finished: int
    final: bool

    @property
    def conversion(self) -> tuple[float | None, ...]:
        """Conversion from entry to each step."""
        return tuple(rate(count, self.entered) for count in self.reached)

    @property
    def finish_rate(self) -> float | None:
        return rate(self.finished, self.entered)


@dataclass(frozen=True)
class CohortTable:
    """Cohort rows counted from ``source`` (``"exact"`` or ``"rollup"``) as of ``fresh_as_of``,
    with the entry days known stale, like :class:`~onboarding.funnel.FunnelResult`'s."""

    flow: str
    window_days: int
    steps: tuple[str, ...]
    titles: tuple[str, ...]
    rows: list[CohortRow]
    computed_at: datetime
    source: str = "exact"
    fresh_as_of: datetime | None = None
    stale_cohorts: tuple[date, ...] = ()


def cohort_table(
    flow: str,
    *,
    entered_from: date | None = None,
    entered_to: date | None = None,
    window_days: int | None = None,
    variants: tuple[str, ...] = (),
    versions: tuple[int, ...] = (),
    using: str | None = None,
    use_rollup: bool = True,
) -> CohortTable:
    """Conversion to each step by entry week, under the rules of :class:`FunnelQuery`.

    Every week of the range cut to the flow's data (:meth:`FunnelQuery.entry_range`) is
    listed, weeks nobody entered included; more than ``FUNNEL_MAX_GROUPS`` weeks raise
    :class:`~onboarding.exceptions.InvalidQuery`. The rollup answers when it answers the
    same query without a breakdown (weeks are sums of its local entry days), so the
    table is as fresh as that funnel.
    """
    query = FunnelQuery(
        flow=flow,
        entered_from=entered_from,
        entered_to=entered_to,
        window_days=window_days,
        variants=variants,
        versions=versions,
        breakdown="entry_week",
        using=using,
        use_rollup=use_rollup,
    )
    # Reached counts only: the table shows no times, whose sorts are most of the cost.
    result = run_funnel(query, detail=False)
    window = timedelta(days=result.window_days)
    rows = []
    for key, group in result.groups.items():
        week = date.fromisoformat(key)
        last_entry = local_midnight(week + timedelta(days=7))
        rows.append(
            CohortRow(
                week=week,
                entered=group.entered,
                reached=tuple(step.reached for step in group.steps),
                finished=group.finished,
                # Judged when counted: a rollup recounts a week until it was final then.
                final=last_entry + window <= (result.fresh_as_of or result.computed_at),
            )
        )
    return CohortTable(
        flow=flow,
        window_days=result.window_days,
        steps=tuple(step.key for step in result.steps),
        titles=tuple(step.title for step in result.steps),
        rows=rows,
        computed_at=result.computed_at,
        source=result.source,
        fresh_as_of=result.fresh_as_of or result.computed_at,
        stale_cohorts=result.stale_cohorts,
    )
