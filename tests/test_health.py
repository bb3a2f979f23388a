"""Health scores, segments, the playbook in admin, and conversion-drop alerts, in numbers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from onboarding import track
from onboarding.health.alerts import conversion_drops, send_alerts
from onboarding.health.models import HealthScore
from onboarding.health.score import compute_scores
from onboarding.health.signals import conversion_dropped
from onboarding.models import Progress
from onboarding.nudges import FewLogins
from onboarding.nudges.mirror import sync_rule
from onboarding.nudges.models import Login, NudgeDelivery
from onboarding.subjects import ref
from tests.factories import UserFactory
from tests.nudge_helpers import T0

pytestmark = pytest.mark.django_db
NOW = T0


def subject(name, *, entered_days, steps=("signup",), idle_days=None):
    """A user who entered ``entered_days`` ago, did ``steps`` (an hour apart) and was
    last active ``idle_days`` ago (default: at the last step)."""
    user = UserFactory(username=name)
    start = NOW - timedelta(days=entered_days)
    for index, step in enumerate(steps):
        track(user, "wizard", step, occurred_at=start + timedelta(hours=index))
    if idle_days is not None:
        track(user, "wizard", kind="viewed", occurred_at=NOW - timedelta(days=idle_days))
    return user


def red_flag(user, rule):
    row = sync_rule(rule)
    subject_ref = ref(user)
    NudgeDelivery.objects.create(
        rule=row,
        progress=Progress.objects.get(subject_id=subject_ref.id),
        subject_type_id=subject_ref.type_id,
        subject_id=subject_ref.id,
        status="held_out",  # a red flag whether or not the e-mail went out
    )


def scores():
    return {
        row.subject_label: (row.score, row.segment, row.flags) for row in HealthScore.objects.all()
    }


def test_scores_and_segments_from_progress_activity_and_red_flags():
    subject("half", entered_days=20, steps=["signup", "profile"], idle_days=2)
    flagged = subject("flagged", entered_days=20, steps=["signup", "profile"], idle_days=2)
    red_flag(flagged, FewLogins(flow="wizard"))
    subject("newcomer", entered_days=3)
    subject("gone", entered_days=60, idle_days=40)
    subject("quiet", entered_days=40, steps=["signup", "profile"], idle_days=18.5)
    subject("done", entered_days=20, steps=["signup", "profile", "project", "publish"])

    report = compute_scores(now=NOW, batch_size=4)

    # 100 * (60 * progress + 40 * recency) / 100 - 15 per red flag
    assert scores() == {
        "half": (70, "active", []),  # 2 of 4 required steps, active 2 days ago
        "flagged": (55, "active", ["few_logins"]),  # 70 - 15
        "newcomer": (55, "new", []),  # 1 of 4, entered 3 days ago
        "gone": (15, "lapsed", []),  # 1 of 4, idle 40 days: recency 0
        "quiet": (50, "declining", []),  # idle 18.5 days: recency (30 - 18.5) / 23 = 0.5
        "done": (78, "declining", []),  # 4 of 4, idle 19.875 days: recency 0.44
    }
    assert (report.subjects, report.batches) == (6, 2)
    assert report.segments == {"active": 2, "new": 1, "lapsed": 1, "declining": 2}


def test_a_login_counts_as_activity():
    user = subject("reader", entered_days=40, idle_days=35)
    Login.objects.create(
        user=user, subject_type_id=ref(user).type_id, subject_id=str(user.pk), at=NOW
    )

    compute_scores(now=NOW)

    assert scores()["reader"] == (55, "active", [])


def test_a_score_that_falls_by_the_decline_points_is_declining():
    user = subject("slipping", entered_days=20, steps=["signup", "profile"], idle_days=1)
    compute_scores(now=NOW)
    assert scores()["slipping"] == (70, "active", [])

    red_flag(user, FewLogins(flow="wizard"))
    compute_scores(now=NOW + timedelta(hours=1))

    row = HealthScore.objects.get()
    assert (row.previous_score, row.score, row.segment) == (70, 55, "declining")


@override_settings(ONBOARDING={"HEALTH_WEIGHTS": {"progress": 1, "recency": 0, "red_flag": 50}})
def test_weights_come_from_settings():
    user = subject("weighted", entered_days=20, steps=["signup", "profile", "project"])
    red_flag(user, FewLogins(flow="wizard"))

    compute_scores(now=NOW)

    assert scores()["weighted"][0] == 25  # 100 * 3/4 - 50


def test_admin_filters_by_segment_and_red_flag_and_shows_the_playbook(admin_client):
    flagged = subject("flagged", entered_days=20, steps=["signup", "profile"], idle_days=2)
    red_flag(flagged, FewLogins(flow="wizard"))
    subject("gone", entered_days=60, idle_days=40)
    compute_scores(now=NOW)
    url = reverse("admin:onboarding_healthscore_changelist")

    lapsed = admin_client.get(url, {"segment__exact": "lapsed"}).content.decode()
    with_flag = admin_client.get(url, {"red_flag": "few_logins"}).content.decode()

    assert "gone" in lapsed and "flagged" not in lapsed
    assert "Win-back offer" in lapsed
    assert "flagged" in with_flag and "gone" not in with_flag
    assert "Remind them what they set up" in with_flag
    with override_settings(ONBOARDING={"HEALTH_PLAYBOOK": {"lapsed": "Call them today."}}):
        assert "Call them today." in admin_client.get(url).content.decode()


def _cohort(prefix, count, *, start, converted):
    """``count`` subjects signing up at ``start`` + i hours; the first ``converted`` of
    them fill in their profile an hour later."""
    for index in range(count):
        user = UserFactory(username=f"{prefix}{index}")
        at = start + timedelta(hours=index)
        track(user, "wizard", "signup", occurred_at=at)
        if index < converted:
            track(user, "wizard", "profile", occurred_at=at + timedelta(hours=1))


def test_a_step_whose_conversion_fell_by_more_than_the_share_alerts_by_mail_and_signal():
    _cohort("before", 25, start=NOW - timedelta(days=13), converted=20)  # 80 %
    _cohort("lately", 25, start=NOW - timedelta(days=6), converted=10)  # 40 %
    received = []

    def on_drop(sender, drop, **kwargs):
        received.append((sender, drop.step, drop.previous_rate, drop.current_rate))

    conversion_dropped.connect(on_drop)
    try:
        with override_settings(
            ONBOARDING={"HEALTH_ALERT_RECIPIENTS": ["pm@example.com"]}, MANAGERS=[]
        ):
            drops = conversion_drops(now=NOW)
            send_alerts(drops)
    finally:
        conversion_dropped.disconnect(on_drop)

    assert [(one.flow, one.step) for one in drops] == [("wizard", "profile")]
    drop = drops[0]
    assert (drop.previous_rate, drop.current_rate) == (0.8, 0.4)
    assert (drop.previous_subjects, drop.current_subjects) == (25, 25)
    assert drop.drop == pytest.approx(0.5)
    assert received == [("wizard", "profile", 0.8, 0.4)]
    [message] = mail.outbox
    assert message.to == ["pm@example.com"]
    assert "wizard / profile: 80.0 % -> 40.0 % (50 % lower)" in message.body


def test_no_alert_under_the_share_or_with_too_few_subjects():
    _cohort("before", 25, start=NOW - timedelta(days=13), converted=20)  # 80 %
    _cohort("lately", 25, start=NOW - timedelta(days=6), converted=17)  # 68 %: 15 % lower

    assert conversion_drops(now=NOW) == []
    assert [one.step for one in conversion_drops(now=NOW, drop=0.1)] == ["profile"]
    assert conversion_drops(now=NOW, drop=0.1, min_subjects=26) == []


def test_the_alerts_task_mails_managers_by_default():
    from onboarding.health.tasks import conversion_alerts

    _cohort("before", 20, start=NOW - timedelta(days=13), converted=20)
    _cohort("lately", 20, start=NOW - timedelta(days=6), converted=5)

    with override_settings(MANAGERS=[("PM", "pm@example.com")]):
        from unittest import mock

        with mock.patch("onboarding.health.alerts.timezone.now", return_value=NOW):
            result = conversion_alerts.delay().get()

    assert result == [{"flow": "wizard", "step": "profile", "before": 1.0, "now": 0.25}]
    assert mail.outbox[0].to == ["pm@example.com"]


def test_a_nudge_is_not_the_subjects_activity():
    user = subject("nudged", entered_days=60, idle_days=40)
    track(user, "wizard", "profile", kind="nudged", occurred_at=NOW - timedelta(days=1))

    compute_scores(now=NOW)

    assert scores()["nudged"] == (15, "lapsed", [])
