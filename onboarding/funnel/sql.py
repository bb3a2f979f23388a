"""SQL for the funnel rules: the per-subject step times and the reached conditions."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

from django.db import NotSupportedError, connections

from onboarding.funnel.dialects import Dialect
from onboarding.funnel.pathmodel import MAX_STEPS, time_field
from onboarding.funnel.plan import FunnelPlan
from onboarding.funnel.population import Population

__all__ = ["MAX_STEPS", "FunnelSQL", "default_column", "path_select", "time_column"]


def time_column(index: int) -> str:
    return f"t{index}"


def default_column(index: int) -> str:
    return f"d{index}"


def _positions(pop: Population, key: str) -> dict[int, int]:
    """Where step ``key`` is in each version of the flow that has it: version id -> position."""
    found = {}
    for version_id, keys in pop.version_steps.items():
        if key in keys:
            position = keys.index(key)
            if position >= MAX_STEPS:
                raise NotSupportedError(
                    f"Step {key!r} of flow {pop.plan.flow.key!r} is step {position + 1} of "
                    f"its version; at most {MAX_STEPS} steps are supported."
                )
            found[version_id] = position
    return found


def _step_sql(pop: Population, key: str) -> tuple[str, str]:
    """Step ``key``'s time and defaulted flag (0/1) over the path row ``f``.

    Usually every version has the step at the same position: a plain column. When
    versions differ, a ``CASE`` on the row's version picks its column.
    """
    positions = _positions(pop, key)
    if not positions:
        return "NULL", "0"
    if len(set(positions.values())) == 1 and len(positions) == len(pop.version_steps):
        (position,) = set(positions.values())
        return f"f.{time_field(position)}", f"((f.defaulted >> {position}) & 1)"
    times = " ".join(f"WHEN {int(v)} THEN f.{time_field(p)}" for v, p in positions.items())
    flags = " ".join(f"WHEN {int(v)} THEN ((f.defaulted >> {p}) & 1)" for v, p in positions.items())
    return f"CASE f.version_id {times} END", f"CASE f.version_id {flags} ELSE 0 END"


def path_select(pop: Population, fields: tuple[str, ...] = ()) -> tuple[str, list[Any]]:
    """SQL giving one row per subject: ``id``, ``fields``, ``e``, ``t<i>`` and ``d<i>``.

    Read from the population's ``FunnelPath`` rows (no join, no grouping): ``e`` is the
    entry and ``t<i>`` the plan's step i's first completion (NULL if none), in
    microseconds; ``d<i>`` is 1 when that completion was ``defaulted``. ``fields`` are
    path columns kept as they are.
    """
    if len(pop.plan.steps) > MAX_STEPS:
        raise NotSupportedError(
            f"The funnel of flow {pop.plan.flow.key!r} has {len(pop.plan.steps)} steps; "
            f"at most {MAX_STEPS} are supported."
        )
    quote = connections[pop.using].ops.quote_name
    inner_sql, inner_params = pop.paths.order_by().query.get_compiler(using=pop.using).as_sql()
    columns = ["f.progress_id AS id", *(f"f.{quote(name)}" for name in fields), "f.entered AS e"]
    for step in pop.plan.steps:
        time, flag = _step_sql(pop, step.key)
        columns += [
            f"{time} AS {time_column(step.index)}",
            f"{flag} AS {default_column(step.index)}",
        ]
    sql = f"SELECT {', '.join(columns)} FROM ({inner_sql}) AS f"
    return sql, list(inner_params)


class FunnelSQL:
    """SQL expressions of the funnel rules over the rows of :func:`path_select`.

    ``t<i>`` holds step i's first completion, ``e`` the entry (``e <= t<i>``). The
    window is applied once per step: a chain of non-decreasing times ends with the
    step's own, so when that one lies within the window every earlier one does too.
    A NULL time makes its comparisons unknown, which every use treats as false.

    With ``versions`` (each version's own plan, by version id) a subject is measured
    against its version's steps, lined up by key: each rule is a ``CASE`` on the row's
    ``version_id``, and a step its version lacks is never reached.
    """

    def __init__(
        self,
        plan: FunnelPlan,
        dialect: Dialect,
        window_us: int,
        versions: dict[int, FunnelPlan] | None = None,
    ) -> None:
        self.plan = plan
        self.dialect = dialect
        self.window_us = window_us
        self.versions = versions
        self._index = {step.key: step.index for step in plan.steps}

    def base(self, rows_sql: str, passthrough: list[str], group_sql: str) -> str:
        """A SELECT over ``rows_sql`` giving ``g`` (the group), ``e``, ``t<i>`` and ``d<i>``.

        ``passthrough`` names its columns kept as they are; ``group_sql`` may use ``e``.
        """
        columns = [*passthrough, "e", f"{group_sql} AS g"]
        for step in self.plan.steps:
            columns += [time_column(step.index), default_column(step.index)]
        return f"SELECT {', '.join(columns)} FROM ({rows_sql}) AS pivot"

    def _time(self, plan: FunnelPlan, index: int) -> str:
        """The time column of ``plan``'s step ``index`` (the counted plan's, by key)."""
        return time_column(self._index[plan.steps[index].key])

    def _per_version(self, build: Callable[[FunnelPlan], str | None]) -> str:
        """True where ``build(the row's version's plan)`` holds (``None``: never)."""
        branches = []
        for version_id, plan in sorted((self.versions or {}).items()):
            condition = build(plan)
            if condition is not None:
                branches.append(f"WHEN {int(version_id)} THEN {self.flag(condition)}")
        if not branches:
            return "1 = 0"
        return f"(CASE version_id {' '.join(branches)} ELSE 0 END) = 1"

    def _key_in(self, plan: FunnelPlan, index: int) -> int | None:
        return plan.index_of(self.plan.steps[index].key)

    def inside(self, index: int) -> str:
        """True when step ``index`` was completed within the window of entry."""
        return self.dialect.within(time_column(index), "e", self.window_us)

    def _reached_in(self, plan: FunnelPlan, index: int) -> str:
        chain = plan.chain(index)
        parts = [self.dialect.within(self._time(plan, index), "e", self.window_us)]
        for before, after in pairwise(chain):
            parts.append(f"{self._time(plan, after)} >= {self._time(plan, before)}")
        return " AND ".join(parts)

    def reached(self, index: int) -> str:
        """SQL that is true when the subject reached step ``index``."""
        if self.versions is None:
            return self._reached_in(self.plan, index)

        def build(plan: FunnelPlan) -> str | None:
            own = self._key_in(plan, index)
            return None if own is None else self._reached_in(plan, own)

        return self._per_version(build)

    def _since_in(self, plan: FunnelPlan, index: int) -> str:
        anchor = plan.steps[index].anchor
        return "e" if anchor is None else self._time(plan, anchor)

    def since(self, index: int) -> str:
        """SQL for when the subject started waiting for step ``index``: its anchor's time."""
        if self.versions is None:
            return self._since_in(self.plan, index)
        branches = []
        for version_id, plan in sorted(self.versions.items()):
            own = self._key_in(plan, index)
            if own is not None:
                branches.append(f"WHEN {int(version_id)} THEN {self._since_in(plan, own)}")
        return f"CASE version_id {' '.join(branches)} ELSE e END" if branches else "e"

    def delta(self, index: int) -> str:
        """The time step ``index`` took, from its anchor (or entry)."""
        since = self.since(index)
        return f"{time_column(index)} - " + (since if self.versions is None else f"({since})")

    def anchor_reached(self, index: int) -> str:
        if self.versions is None:
            anchor = self.plan.steps[index].anchor
            return "1 = 1" if anchor is None else self.reached(anchor)

        def build(plan: FunnelPlan) -> str | None:
            own = self._key_in(plan, index)
            if own is None:
                return None
            anchor = plan.steps[own].anchor
            return "1 = 1" if anchor is None else self._reached_in(plan, anchor)

        return self._per_version(build)

    def _finished_in(self, plan: FunnelPlan) -> str:
        required = plan.required
        if not required:
            return "1 = 1"
        if plan.ordered:
            return self._reached_in(plan, required[-1])
        return " AND ".join(
            self.dialect.within(self._time(plan, index), "e", self.window_us) for index in required
        )

    def finished(self) -> str:
        if self.versions is None:
            return self._finished_in(self.plan)
        return self._per_version(self._finished_in)

    def _finish_delta_in(self, plan: FunnelPlan) -> str:
        required = [self._time(plan, index) for index in plan.required]
        if not required:
            return "e - e"
        if plan.ordered:
            return f"{required[-1]} - e"
        return f"{self.dialect.greatest(required)} - e"

    def finish_delta(self) -> str:
        """Entry to the last required step (in ordered flows, the chain's last time)."""
        if self.versions is None:
            return self._finish_delta_in(self.plan)
        branches = " ".join(
            f"WHEN {int(version_id)} THEN {self._finish_delta_in(plan)}"
            for version_id, plan in sorted(self.versions.items())
        )
        return f"CASE version_id {branches} END"

    @staticmethod
    def flag(condition: str) -> str:
        """0/1 for a condition, so that NULL comparisons count as false."""
        return f"CASE WHEN {condition} THEN 1 ELSE 0 END"
