"""System checks of the declared nudge rules (``onboarding.E013``, ``onboarding.E014``)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register

from onboarding.nudges.rules import rule_registry
from onboarding.registry import registry


@register("onboarding")
def check_rules(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors: list[Error] = []
    for key in sorted(set(rule_registry.duplicate_keys)):
        errors.append(
            Error(
                f"Nudge rule key {key!r} is declared by more than one rule; only the last "
                "one is evaluated.",
                hint="Give each rule a unique key=..., or declare it in one module only.",
                id="onboarding.E014",
            )
        )
    declared = ", ".join(sorted(flow.key for flow in registry.all())) or "-"
    for rule in rule_registry.all():
        where = f"Nudge rule {rule.rule_key!r}"
        if rule.flow not in registry:
            errors.append(
                Error(
                    f"{where} names the unknown flow {rule.flow!r}.",
                    hint=f"Declared flows: {declared}.",
                    id="onboarding.E013",
                )
            )
        elif rule.step_key and rule.step_key not in registry.get(rule.flow).step_keys:
            flow = registry.get(rule.flow)
            errors.append(
                Error(
                    f"{where} names the unknown step {rule.step_key!r} of flow {rule.flow!r}.",
                    hint=f"Steps of {rule.flow!r}: {', '.join(flow.step_keys)}.",
                    id="onboarding.E013",
                )
            )
    return errors
