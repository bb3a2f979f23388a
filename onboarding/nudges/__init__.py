"""Nudges: e-mails to stalled subjects and Groove's red flags, each with a holdout.

Declare rules in ``onboarding_flows.py`` next to the flow::

    from onboarding.nudges import Stalled, register_rule

    register_rule(Stalled(flow="bingo", step="customize", after_hours=24))

The Celery task ``onboarding.nudges.evaluate`` (run it from beat) claims and sends them.
"""

from onboarding.nudges.rules import (
    FewLogins,
    Rule,
    ShortFirstSession,
    SlowStep,
    Stalled,
    SubjectFacts,
    TrialEnding,
    register_rule,
    rule_registry,
)

__all__ = [
    "FewLogins",
    "Rule",
    "ShortFirstSession",
    "SlowStep",
    "Stalled",
    "SubjectFacts",
    "TrialEnding",
    "register_rule",
    "rule_registry",
]
