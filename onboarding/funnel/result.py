"""Typed results of a funnel query."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta


def rate(part: int, whole: int) -> float | None:
    """``part / whole``, or ``None`` when there is nothing to divide by."""
    return part / whole if whole else None


@dataclass(frozen=True)
class StepResult:
    """One step of a funnel.

    ``previous`` is the key of the step this one is measured against (``None``:
    entry): the nearest required step before it in ordered flows, entry in any-order
    flows. ``conversion_from_previous``, ``drop_off`` and the times are relative to
    it. ``median_time`` and ``p90_time`` are nearest-rank percentiles (the value at
    rank ``ceil(p * reached)``) of the time from ``previous``, over the subjects
    who reached the step; ``None`` when nobody did.
    """

    key: str
    title: str
    optional: bool
    previous: str | None
    reached: int
    previous_reached: int
    entered: int
    defaulted: int
    median_time: timedelta | None
    p90_time: timedelta | None

    @property
    def conversion_from_previous(self) -> float | None:
        return rate(self.reached, self.previous_reached)

    @property
    def conversion_from_entry(self) -> float | None:
        return rate(self.reached, self.entered)

    @property
    def drop_off(self) -> int:
        """How many who reached the previous step did not reach this one."""
        return self.previous_reached - self.reached

    @property
    def defaulted_share(self) -> float | None:
        """Share of those who reached the step by accepting its smart default."""
        return rate(self.defaulted, self.reached)


@dataclass(frozen=True)
class FunnelResult:
    """A funnel over one population (the whole query, or one breakdown group).

    ``finished`` counts subjects who reached every required step (in ordered flows:
    the last required one); its times run from entry to the last required step.
    ``groups`` holds one result per breakdown group, keyed by variant name, version
    number or the ISO date of the entry week's Monday.

    ``source`` is ``"exact"`` (counted from progress now) or ``"rollup"`` (read from
    the maintained rollup: counts as of ``fresh_as_of``, times the middle of a time
    bucket, within ``onboarding.rollups.buckets.RELATIVE_ERROR``). For exact results
    ``fresh_as_of`` is ``computed_at``. ``stale_cohorts`` lists the local entry days
    whose rollup counts a late event changed after they were counted (a first event or
    completion arriving after the window, a history import): their counts are older
    than ``fresh_as_of`` until the next refresh recounts them. Always empty when exact.

    ``entered_from`` and ``entered_to`` are the entry dates counted: the query's, but
    for a breakdown by entry week cut to the flow's data (``None``: open).
    """

    flow: str
    ordered: bool
    window_days: int
    entered: int
    finished: int
    median_time_to_finish: timedelta | None
    p90_time_to_finish: timedelta | None
    steps: list[StepResult]
    computed_at: datetime
    breakdown: str | None = None
    groups: dict[str, FunnelResult] = field(default_factory=dict)
    source: str = "exact"
    fresh_as_of: datetime | None = None
    stale_cohorts: tuple[date, ...] = ()
    entered_from: date | None = None
    entered_to: date | None = None

    @property
    def finish_rate(self) -> float | None:
        return rate(self.finished, self.entered)

    def step(self, key: str) -> StepResult:
        for step in self.steps:
            if step.key == key:
                return step
        raise KeyError(f"No step {key!r} in the funnel of flow {self.flow!r}.")
