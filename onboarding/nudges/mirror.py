"""Mirror declared rules into ``NudgeRule`` rows, idempotently (admin reads these)."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from onboarding.conf import onboarding_settings
from onboarding.nudges.models import NudgeRule
from onboarding.nudges.rules import Rule, rule_registry
from onboarding.registry import get_flow
from onboarding.sync import flow_record


def holdout_share(rule: Rule) -> float:
    return onboarding_settings.NUDGE_HOLDOUT if rule.holdout is None else rule.holdout


def _fields(rule: Rule) -> dict[str, object]:
    flow = get_flow(rule.flow)  # raises UnknownFlow naming the key
    if rule.step_key:
        flow.step(rule.step_key)  # raises UnknownStep naming the key
    with translation.override(settings.LANGUAGE_CODE):
        description = str(rule.description or (rule.__doc__ or "").strip().splitlines()[0])
    return {
        "flow": flow_record(flow),
        "kind": rule.kind,
        "step_key": rule.step_key,
        "params": rule.params(),
        "template": rule.template,
        "holdout": holdout_share(rule),
        "description": description,
        "declared": True,
    }


def sync_rule(rule: Rule) -> NudgeRule:
    """The mirror row of ``rule``, created or brought up to date."""
    fields = _fields(rule)
    row = NudgeRule.objects.filter(key=rule.rule_key).first()
    if row is None:
        try:
            with transaction.atomic():
                return NudgeRule.objects.create(key=rule.rule_key, **fields)
        except IntegrityError:  # a concurrent evaluation created it first
            row = NudgeRule.objects.get(key=rule.rule_key)
    stale = [name for name, value in fields.items() if getattr(row, name) != value]
    if stale:
        for name in stale:
            setattr(row, name, fields[name])
        row.synced_at = timezone.now()
        row.save(update_fields=[*stale, "synced_at"])
    return row


def sync_rules() -> list[NudgeRule]:
    """Mirror every declared rule; rules no longer declared are marked so, not deleted."""
    rows = [sync_rule(rule) for rule in rule_registry.all()]
    NudgeRule.objects.filter(declared=True).exclude(key__in=[row.key for row in rows]).update(
        declared=False
    )
    return rows
