"""Nudge rules, declared in code next to the flows they watch.

A rule decides, for one subject's facts at a moment, whether a nudge is due and which
step it pushes towards (the step whose conversion measures the nudge's lift). Rules are
plain frozen dataclasses so that ``onboarding_flows.py`` can declare them at import time::

    register_rule(Stalled(flow="bingo", step="customize", after_hours=24))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.db.models import QuerySet
from django.utils.module_loading import import_string

DEFAULT_TEMPLATE = "onboarding/email/nudge"


@dataclass(frozen=True)
class SubjectFacts:
    """What a rule may look at for one subject; loaded per batch by the evaluator.

    ``activity`` (event and login times, sorted) and ``logins`` are filled only for
    rules that ask for them (``needs_activity``).
    """

    progress: Any
    states: Mapping[str, Any]
    subject: Any = None
    activity: Sequence[datetime] = ()
    logins: Sequence[datetime] = ()

    @property
    def steps(self) -> list[dict[str, Any]]:
        return self.progress.version.steps

    def completed_at(self, step_key: str) -> datetime | None:
        state = self.states.get(step_key)
        return state.completed_at if state is not None else None

    def declined(self, step_key: str) -> bool:
        """Skipped or dismissed and not done: the subject said no, so it is not nagged."""
        state = self.states.get(step_key)
        return bool(state and state.completed_at is None and state.outcome)

    def next_step(self) -> str:
        """The first required step not done (``""`` when none is left)."""
        for step in self.steps:
            if not step["optional"] and self.completed_at(step["key"]) is None:
                return step["key"]
        return ""

    def waiting_since(self, step_key: str, *, ordered: bool) -> datetime | None:
        """Since when the subject could do ``step_key``: the previous required step's
        completion in an ordered flow (``None`` while that is not done), else entry."""
        keys = [step["key"] for step in self.steps]
        if step_key not in keys:
            return None
        if not ordered:
            return self.progress.entered_at
        previous = [
            step["key"] for step in self.steps[: keys.index(step_key)] if not step["optional"]
        ]
        return self.completed_at(previous[-1]) if previous else self.progress.entered_at


def sessions(times: Sequence[datetime], gap: timedelta) -> list[tuple[datetime, datetime]]:
    """Group sorted activity times into sessions: a pause longer than ``gap`` ends one."""
    found: list[tuple[datetime, datetime]] = []
    for at in times:
        if found and at - found[-1][1] <= gap:
            found[-1] = (found[-1][0], at)
        else:
            found.append((at, at))
    return found


@dataclass(frozen=True, kw_only=True)
class Rule:
    """Base of every rule. ``key`` defaults to one made of the flow, kind and options.

    ``holdout`` is the share of due subjects kept as a control group (``None``: the
    ``NUDGE_HOLDOUT`` setting); ``template`` is the base name of the e-mail templates
    (``<template>_subject.txt``, ``<template>.txt`` and optionally ``<template>.html``).
    """

    flow: str
    key: str = ""
    template: str = DEFAULT_TEMPLATE
    holdout: float | None = None
    description: str = ""

    kind: ClassVar[str] = ""
    needs_activity: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.holdout is not None and not 0 <= self.holdout < 1:
            raise ValueError(f"{self.rule_key}: holdout must be in [0, 1), not {self.holdout!r}")

    @property
    def rule_key(self) -> str:
        return self.key or self.default_key()

    def default_key(self) -> str:
        return f"{self.flow}.{self.kind}"

    @property
    def step_key(self) -> str:
        """The step this rule is about, if it is about one."""
        return getattr(self, "step", "")

    def params(self) -> dict[str, Any]:
        """The options shown in admin."""
        return {}

    def narrow(self, queryset: QuerySet, now: datetime) -> QuerySet:
        """Filter the flow's progress rows in SQL before facts are loaded."""
        # Subjects with only the app's own (nudged) events have not entered.
        return queryset.filter(finished_at__isnull=True, entered_at__isnull=False)

    def prepare(self, flow_record: Any, now: datetime) -> Any:
        """Once per evaluation (e.g. a median); passed to :meth:`due` as ``context``."""
        return None

    def due(self, facts: SubjectFacts, now: datetime, context: Any, *, ordered: bool) -> str | None:
        """The step to push towards when a nudge is due now (``""`` for none), else ``None``."""
        raise NotImplementedError


def _positive(rule: Rule, **values: float) -> None:
    for name, value in values.items():
        if value <= 0:
            raise ValueError(f"{rule.rule_key}: {name} must be positive, not {value!r}")


@dataclass(frozen=True, kw_only=True)
class Stalled(Rule):
    """Finished the previous step (or entered) more than ``after_hours`` ago, not ``step``."""

    step: str
    after_hours: float = 24
    kind: ClassVar[str] = "stalled"

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self, after_hours=self.after_hours)

    def default_key(self) -> str:
        return f"{self.flow}.stalled.{self.step}.{self.after_hours:g}h"

    def params(self) -> dict[str, Any]:
        return {"step": self.step, "after_hours": self.after_hours}

    def due(self, facts: SubjectFacts, now: datetime, context: Any, *, ordered: bool) -> str | None:
        if facts.completed_at(self.step) or facts.declined(self.step):
            return None
        since = facts.waiting_since(self.step, ordered=ordered)
        if since is None or now - since < timedelta(hours=self.after_hours):
            return None
        return self.step


@dataclass(frozen=True, kw_only=True)
class ShortFirstSession(Rule):
    """Groove's red flag: a first session shorter than ``minutes`` (activity pauses longer
    than ``NUDGE_SESSION_GAP_MINUTES`` end a session). Only in the first ``within_days``."""

    minutes: float = 2
    within_days: int = 30
    kind: ClassVar[str] = "short_first_session"
    needs_activity: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self, minutes=self.minutes, within_days=self.within_days)

    def params(self) -> dict[str, Any]:
        return {"minutes": self.minutes, "within_days": self.within_days}

    def narrow(self, queryset: QuerySet, now: datetime) -> QuerySet:
        since = now - timedelta(days=self.within_days)
        return super().narrow(queryset, now).filter(entered_at__gte=since)

    def due(self, facts: SubjectFacts, now: datetime, context: Any, *, ordered: bool) -> str | None:
        from onboarding.conf import onboarding_settings

        gap = timedelta(minutes=onboarding_settings.NUDGE_SESSION_GAP_MINUTES)
        found = sessions(facts.activity, gap)
        if not found:
            return None
        start, end = found[0]
        # A session still going on may yet grow longer than the threshold.
        if now - end <= gap or end - start >= timedelta(minutes=self.minutes):
            return None
        return facts.next_step()


@dataclass(frozen=True, kw_only=True)
class FewLogins(Rule):
    """Groove's red flag: fewer than ``min_logins`` logins in the first ``days`` days."""

    min_logins: int = 2
    days: int = 10
    within_days: int = 30
    kind: ClassVar[str] = "few_logins"
    needs_activity: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self, min_logins=self.min_logins, days=self.days)
        if self.within_days < self.days:
            raise ValueError(f"{self.rule_key}: within_days must be at least days")

    def params(self) -> dict[str, Any]:
        return {"min_logins": self.min_logins, "days": self.days, "within_days": self.within_days}

    def narrow(self, queryset: QuerySet, now: datetime) -> QuerySet:
        # Only once the first ``days`` are over, and not for long-gone subjects.
        return (
            super()
            .narrow(queryset, now)
            .filter(
                entered_at__lte=now - timedelta(days=self.days),
                entered_at__gte=now - timedelta(days=self.within_days),
            )
        )

    def due(self, facts: SubjectFacts, now: datetime, context: Any, *, ordered: bool) -> str | None:
        from onboarding.conf import onboarding_settings

        # The login that led to entry may come a little before the first event.
        slack = timedelta(minutes=onboarding_settings.NUDGE_SESSION_GAP_MINUTES)
        start = facts.progress.entered_at - slack
        end = facts.progress.entered_at + timedelta(days=self.days)
        count = sum(1 for at in facts.logins if start <= at < end)
        return facts.next_step() if count < self.min_logins else None


@dataclass(frozen=True, kw_only=True)
class SlowStep(Rule):
    """Groove's red flag: waiting on ``step`` more than ``factor`` times its median time
    (over the last ``sample`` completions; silent below ``min_samples`` of them)."""

    step: str
    factor: float = 3
    sample: int = 1000
    min_samples: int = 20
    kind: ClassVar[str] = "slow_step"

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self, factor=self.factor, sample=self.sample, min_samples=self.min_samples)

    def default_key(self) -> str:
        return f"{self.flow}.slow_step.{self.step}"

    def params(self) -> dict[str, Any]:
        return {"step": self.step, "factor": self.factor, "min_samples": self.min_samples}

    def prepare(self, flow_record: Any, now: datetime) -> timedelta | None:
        from onboarding.nudges.medians import median_step_time

        return median_step_time(
            flow_record, self.step, sample=self.sample, min_samples=self.min_samples
        )

    def due(self, facts: SubjectFacts, now: datetime, context: Any, *, ordered: bool) -> str | None:
        if context is None or facts.completed_at(self.step) or facts.declined(self.step):
            return None
        since = facts.waiting_since(self.step, ordered=ordered)
        if since is None or now - since <= context * self.factor:
            return None
        return self.step


TrialEnd = Callable[[Any], "datetime | None"]


@dataclass(frozen=True, kw_only=True)
class TrialEnding(Rule):
    """Lifecycle: the trial ends within ``hours_before`` hours. ``trial_ends`` is the
    host's callable (or its dotted path) ``(subject) -> datetime | None``."""

    trial_ends: TrialEnd | str
    hours_before: float = 72
    unfinished_only: bool = False
    kind: ClassVar[str] = "trial_ending"

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self, hours_before=self.hours_before)

    def default_key(self) -> str:
        return f"{self.flow}.trial_ending.{self.hours_before:g}h"

    def params(self) -> dict[str, Any]:
        name = self.trial_ends if isinstance(self.trial_ends, str) else self.trial_ends.__name__
        return {"hours_before": self.hours_before, "trial_ends": name}

    def narrow(self, queryset: QuerySet, now: datetime) -> QuerySet:
        return super().narrow(queryset, now) if self.unfinished_only else queryset

    def prepare(self, flow_record: Any, now: datetime) -> TrialEnd:
        return (
            import_string(self.trial_ends) if isinstance(self.trial_ends, str) else self.trial_ends
        )

    def due(self, facts: SubjectFacts, now: datetime, context: Any, *, ordered: bool) -> str | None:
        if facts.subject is None:
            return None
        ends = context(facts.subject)
        if ends is None or not ends - timedelta(hours=self.hours_before) <= now < ends:
            return None
        return facts.next_step()


@dataclass
class RuleRegistry:
    """Declared rules by key. A key declared twice by different rules is kept for a check."""

    rules: dict[str, Rule] = field(default_factory=dict)
    duplicate_keys: list[str] = field(default_factory=list)

    def register(self, rule: Rule) -> Rule:
        if not isinstance(rule, Rule):
            raise TypeError(f"register_rule() takes a Rule, not {type(rule).__name__}")
        key = rule.rule_key
        if key in self.rules and self.rules[key] != rule:
            self.duplicate_keys.append(key)
        self.rules[key] = rule
        return rule

    def unregister(self, key: str) -> None:
        self.rules.pop(key, None)

    def get(self, key: str) -> Rule:
        try:
            return self.rules[key]
        except KeyError:
            raise LookupError(f"Unknown nudge rule {key!r}.") from None

    def all(self) -> list[Rule]:
        return list(self.rules.values())


rule_registry = RuleRegistry()


def register_rule(rule: Rule) -> Rule:
    """Declare a nudge rule; call it at import time of an ``onboarding_flows.py`` module."""
    return rule_registry.register(rule)


__all__ = [
    "DEFAULT_TEMPLATE",
    "FewLogins",
    "Rule",
    "ShortFirstSession",
    "SlowStep",
    "Stalled",
    "SubjectFacts",
    "TrialEnding",
    "register_rule",
    "rule_registry",
    "sessions",
]
