"""System checks of what experiments read: flows' control and primary metric, settings."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register

from onboarding.conf import onboarding_settings
from onboarding.experiments import METHODS
from onboarding.registry import registry


@register("onboarding")
def check_experiments(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors: list[Error] = []
    for flow in registry.all():
        errors += _check_flow(flow)
    return errors + _check_settings()


def _check_flow(flow: Any) -> list[Error]:
    errors: list[Error] = []
    where = f"flow {flow.key!r}"
    metric = flow.primary_metric
    if metric != "finished" and metric not in flow.step_keys:
        errors.append(
            Error(
                f"{where}: primary_metric={metric!r} is neither 'finished' nor a step key.",
                hint=f"Use 'finished' or one of {', '.join(flow.step_keys)}.",
                id="onboarding.E080",
            )
        )
    if flow.control and flow.control not in flow.variants:
        errors.append(
            Error(
                f"{where}: control={flow.control!r} is not a declared variant.",
                hint=f"Name one of {', '.join(flow.variants) or '(no variants declared)'}.",
                id="onboarding.E081",
            )
        )
    effect = flow.minimum_effect
    if effect is not None and not _fraction(effect):
        errors.append(
            Error(
                f"{where}: minimum_effect={effect!r} is not a change between 0 and 1.",
                hint="A change in points as a fraction: 0.02 is 2 points.",
                id="onboarding.E082",
            )
        )
    return errors


def _fraction(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1


def _check_settings() -> list[Error]:
    user = onboarding_settings.user_settings
    errors: list[Error] = []
    test = user.get("EXPERIMENT_TEST", "sequential")
    if test not in METHODS:
        errors.append(
            Error(
                f"ONBOARDING['EXPERIMENT_TEST'] is {test!r}.",
                hint=f"Use one of {', '.join(METHODS)}.",
                id="onboarding.E083",
            )
        )
    for key in (
        "EXPERIMENT_ALPHA",
        "EXPERIMENT_POWER",
        "EXPERIMENT_SRM_P",
        "EXPERIMENT_MINIMUM_EFFECT",
    ):
        if key in user and not _fraction(user[key]):
            errors.append(
                Error(
                    f"ONBOARDING[{key!r}] is {user[key]!r}, not a number between 0 and 1.",
                    hint="For example 0.05 for a level, 0.8 for power, 0.02 for 2 points.",
                    id="onboarding.E084",
                )
            )
    tuning = user.get("EXPERIMENT_TUNING_SUBJECTS", 1)
    if isinstance(tuning, bool) or not isinstance(tuning, int | float) or tuning <= 0:
        errors.append(
            Error(
                f"ONBOARDING['EXPERIMENT_TUNING_SUBJECTS'] is {tuning!r}.",
                hint="A positive number of subjects, near the size the test should reach.",
                id="onboarding.E085",
            )
        )
    return errors
