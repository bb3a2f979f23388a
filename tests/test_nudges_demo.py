"""The demo seed shows red-flag users, sent nudges, the holdout and the lift in admin."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from onboarding.health.models import HealthScore
from onboarding.models import Event
from onboarding.nudges.models import NudgeDelivery, NudgeRule
from onboarding.nudges.stats import rule_lift

pytestmark = pytest.mark.django_db


def test_seed_demo_fills_the_nudge_and_health_admin(admin_client):
    out = StringIO()
    call_command("seed_demo", teachers=400, seed=3, stdout=out)

    stalled = NudgeRule.objects.get(key="bingo.stalled.customize.24h")
    lift = rule_lift(stalled.pk)
    assert lift.sent > 0 and lift.held_out > 0
    assert lift.sent_rate > lift.held_out_rate  # the seeded reminder works
    sent = NudgeDelivery.objects.filter(status="sent").count()
    assert Event.objects.filter(kind="nudged").count() == sent
    flagged = HealthScore.objects.exclude(red_flags="").count()
    assert flagged > 0
    assert f"{sent} sent" in out.getvalue()

    rules = admin_client.get(reverse("admin:onboarding_nudgerule_changelist")).content.decode()
    assert "bingo.stalled.customize.24h" in rules and "pp" in rules  # the lift column
    health = admin_client.get(
        reverse("admin:onboarding_healthscore_changelist"), {"red_flag": "any"}
    ).content.decode()
    assert "teacher" in health
    deliveries = admin_client.get(
        reverse("admin:onboarding_nudgedelivery_changelist"), {"status__exact": "held_out"}
    )
    assert deliveries.status_code == 200
