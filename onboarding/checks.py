"""System checks for flow declarations and settings (``onboarding.E001`` ...)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from django.core.checks import Error, register
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from onboarding.conf import DEFAULTS, onboarding_settings
from onboarding.models import EventKind
from onboarding.registry import registry
from onboarding.tracking import KIND_PATTERN

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")


@register("onboarding")
def check_flows(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors: list[Error] = []
    for key in sorted(set(registry.duplicate_keys)):
        errors.append(
            Error(
                f"Flow {key!r} is declared more than once.",
                hint="Give each flow a unique key, or register it in one module only.",
                id="onboarding.E001",
            )
        )
    for flow in registry.all():
        errors += _check_flow(flow)
    return errors


def _check_flow(flow: Any) -> list[Error]:
    errors: list[Error] = []
    where = f"flow {flow.key!r}"
    if not KEY_PATTERN.match(flow.key):
        errors.append(
            Error(
                f"{where}: the key is not a slug.",
                hint="Use lower-case letters, digits, '-' and '_'.",
                id="onboarding.E006",
            )
        )
    for key, count in Counter(flow.step_keys).items():
        if count > 1:
            errors.append(
                Error(
                    f"{where}: step {key!r} is declared {count} times.",
                    hint="Step keys must be unique within a flow.",
                    id="onboarding.E002",
                )
            )
    if not flow.required_steps:
        errors.append(
            Error(
                f"{where} has no required step.",
                hint="Declare at least one step with optional=False.",
                id="onboarding.E005",
            )
        )
    bad_weights = [
        name
        for name, weight in flow.variants.items()
        if not isinstance(weight, int) or isinstance(weight, bool) or weight <= 0
    ]
    if bad_weights:
        errors.append(
            Error(
                f"{where}: variants {bad_weights} need a positive whole weight.",
                hint='For example variants={"shown": 50, "hidden": 50}.',
                id="onboarding.E007",
            )
        )
    for step in flow.steps:
        errors += _check_step(flow, step)
    return errors


def _check_step(flow: Any, step: Any) -> list[Error]:
    errors: list[Error] = []
    where = f"flow {flow.key!r}, step {step.key!r}"
    if not KEY_PATTERN.match(step.key):
        errors.append(
            Error(
                f"{where}: the key is not a slug.",
                hint="Use lower-case letters, digits, '-' and '_'.",
                id="onboarding.E006",
            )
        )
    if step.url and "/" not in step.url:
        try:
            reverse(step.url)
        except NoReverseMatch:
            errors.append(
                Error(
                    f"{where}: URL name {step.url!r} does not reverse.",
                    hint="Name a URL pattern without arguments, or give a path.",
                    id="onboarding.E003",
                )
            )
    if step.default is not None and not callable(step.default):
        errors.append(
            Error(
                f"{where}: default is not callable.",
                hint="Give a callable (subject, actor) -> None.",
                id="onboarding.E004",
            )
        )
    if step.default_label and step.default is None:
        errors.append(
            Error(
                f"{where} offers a default ({step.default_label!r}) with nothing to apply.",
                hint="Pass default=callable(subject, actor) or drop default_label.",
                id="onboarding.E004",
            )
        )
    if step.done_when is not None and not callable(step.done_when):
        errors.append(
            Error(
                f"{where}: done_when is not callable.",
                hint="Give a predicate (subject) -> bool | datetime.",
                id="onboarding.E008",
            )
        )
    if step.completed_by and (
        step.completed_by in EventKind.values or not KIND_PATTERN.match(step.completed_by)
    ):
        errors.append(
            Error(
                f"{where}: completed_by={step.completed_by!r} is not a custom event kind.",
                hint="Name a custom kind (lower-case, e.g. 'project_created'); built-in kinds "
                "such as 'completed' already act on the step they name.",
                id="onboarding.E012",
            )
        )
    if step.estimated_seconds < 0:
        errors.append(
            Error(
                f"{where}: estimated_seconds is negative.",
                hint="Give the seconds a user usually needs, or 0.",
                id="onboarding.E009",
            )
        )
    return errors


@register("onboarding")
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors: list[Error] = []
    user_settings = onboarding_settings.user_settings
    for key in sorted(set(user_settings) - set(DEFAULTS)):
        errors.append(
            Error(
                f"ONBOARDING[{key!r}] is not a setting of django-onboarding.",
                hint=f"Valid keys: {', '.join(sorted(DEFAULTS))}.",
                id="onboarding.E011",
            )
        )
    groups = user_settings.get("FUNNEL_MAX_GROUPS", 1)
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        errors.append(
            Error(
                f"ONBOARDING['FUNNEL_MAX_GROUPS'] must be a whole number of at least 1, "
                f"not {groups!r}.",
                hint="The most groups one funnel breakdown may build; the default 520 is "
                "ten years of entry weeks.",
                id="onboarding.E050",
            )
        )
    resolver = user_settings.get("SUBJECT_RESOLVER")
    if isinstance(resolver, str):
        try:
            import_string(resolver)
        except ImportError as error:
            errors.append(
                Error(
                    f"ONBOARDING['SUBJECT_RESOLVER'] cannot be imported: {error}",
                    hint="Give the dotted path of a callable (user) -> model instance.",
                    id="onboarding.E010",
                )
            )
    return errors


# Checks of the Celery setup and of the nudge rules live with them; importing registers them.
from onboarding import (  # noqa: E402, F401
    celery_checks,
    database_checks,
    deploy_checks,
    experiment_checks,
)
from onboarding.nudges import checks as nudge_checks  # noqa: E402, F401
from onboarding.webhooks import checks as webhook_checks  # noqa: E402, F401
