"""A funnel broken down by variant, judged as an experiment (:mod:`onboarding.experiments`).

Each declared variant is an arm; its metrics are the reach of every step from entry and
``finished``, all counted over the subjects who entered (the unit assigned), so every
difference is a randomized comparison. The flow's ``primary_metric`` is judged alone,
the others together with Holm's correction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Min
from django.utils import timezone

from onboarding.conf import onboarding_settings
from onboarding.declarations import Flow
from onboarding.experiments import Analysis, Arm, Design, Method, analyze
from onboarding.funnel.query import FunnelQuery
from onboarding.funnel.result import FunnelResult
from onboarding.funnel.timeutil import from_us, local_midnight

FINISHED = "finished"


def design_for(
    flow: Flow,
    *,
    method: Method | None = None,
    control: str | None = None,
    steps: list[str] | None = None,
    finishing_step: str | None = None,
) -> Design:
    """The flow's experiment design (its ``steps`` and ``finished`` the secondary
    metrics) with the ``EXPERIMENT_*`` settings. ``finishing_step``, whose reach is
    finishing by definition, is not judged again beside ``finished``."""
    settings = onboarding_settings
    metrics = [*(flow.step_keys if steps is None else steps), FINISHED]
    if finishing_step is not None:
        # Holm over a metric twice would only make every other one harder to pass.
        same = FINISHED if flow.primary_metric == finishing_step else finishing_step
        metrics = [metric for metric in metrics if metric != same]
    return Design(
        control=control or flow.control_variant,
        primary=flow.primary_metric,
        secondary=tuple(metrics),
        method=method or settings.EXPERIMENT_TEST,
        alpha=settings.EXPERIMENT_ALPHA,
        power=settings.EXPERIMENT_POWER,
        tuning=settings.EXPERIMENT_TUNING_SUBJECTS,
        effect=flow.minimum_effect or settings.EXPERIMENT_MINIMUM_EFFECT,
        srm_threshold=settings.EXPERIMENT_SRM_P,
    )


def finishing_step(result: FunnelResult) -> str | None:
    """The step whose reach is the finish count by definition: the last required step of
    an ordered flow, the only required step of an any-order one (docs/funnel.md, 5)."""
    required = [step.key for step in result.steps if not step.optional]
    if required and (result.ordered or len(required) == 1):
        return required[-1]
    return None


def arm(name: str, group: FunnelResult, weight: float) -> Arm:
    """One variant's group as an arm: its entered subjects, finished and each step reached."""
    return Arm(
        name=name,
        weight=weight,
        subjects=group.entered,
        conversions={FINISHED: group.finished, **{s.key: s.reached for s in group.steps}},
    )


def arms(result: FunnelResult, flow: Flow) -> list[Arm]:
    """The declared variants present in ``result``, in declared order."""
    return [
        arm(name, result.groups[name], flow.variants[name])
        for name in flow.variants
        if name in result.groups
    ]


@dataclass(frozen=True)
class FunnelExperiment:
    """A flow's variants judged: the analysis, the titles of its metrics, entry rates."""

    flow: str
    analysis: Analysis
    titles: Mapping[str, str]
    per_day: Mapping[str, float] | None = None

    def title(self, metric: str) -> str:
        return self.titles.get(metric, metric)


def funnel_experiment(
    result: FunnelResult,
    flow: Flow,
    *,
    method: Method | None = None,
    per_day: Mapping[str, float] | None = None,
    baseline: float | None = None,
) -> FunnelExperiment | None:
    """The experiment in a result broken down by variant; ``None`` without two declared
    variants in it, or without the control among them."""
    if result.breakdown != "variant":
        raise ValueError("funnel_experiment needs a result of FunnelQuery(breakdown='variant').")
    found = arms(result, flow)
    design = design_for(
        flow,
        method=method,
        steps=[step.key for step in result.steps],
        finishing_step=finishing_step(result),
    )
    if len(found) < 2 or design.control not in [arm.name for arm in found]:
        return None
    titles = {step.key: str(step.title) for step in result.steps}
    return FunnelExperiment(
        flow=flow.key,
        analysis=analyze(found, design, per_day=per_day, baseline=baseline),
        titles=titles,
        per_day=per_day,
    )


def entry_rates(query: FunnelQuery, result: FunnelResult) -> dict[str, float] | None:
    """Subjects entering per day in each group of ``result``, over the days from the first
    entry counted to the end of the range (now, for an open or current range)."""
    from onboarding.funnel.population import population

    pop = population(query)
    if pop.empty:
        return None
    first = pop.paths.aggregate(first=Min("entered"))["first"]
    if first is None:
        return None
    end: datetime = timezone.now()
    if query.entered_to is not None:
        end = min(end, local_midnight(query.entered_to + timedelta(days=1)))
    days = max((end - from_us(first)) / timedelta(days=1), 1.0)
    groups = result.groups or {"": result}
    return {name: group.entered / days for name, group in groups.items()}
