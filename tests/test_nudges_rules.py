"""Red flags, lifecycle rules, logins, lift statistics, admin and the command."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from onboarding import complete, track
from onboarding.experiments import Proportion, sequential_test
from onboarding.models import Progress
from onboarding.nudges import FewLogins, ShortFirstSession, SlowStep, Stalled, TrialEnding
from onboarding.nudges.activity import record_login
from onboarding.nudges.evaluate import evaluate
from onboarding.nudges.models import DeliveryStatus, Login, NudgeDelivery, NudgeRule
from onboarding.nudges.rules import sessions
from onboarding.nudges.stats import rule_lift, two_proportion_p_value
from tests.factories import UserFactory
from tests.nudge_helpers import T0

NOW = T0 + timedelta(days=12)
MIN = timedelta(minutes=1)


def due_users(**options):
    evaluate(now=NOW, enqueue=lambda pk: None, **options)
    return set(NudgeDelivery.objects.values_list("subject_id", flat=True))


def test_sessions_split_on_pauses_longer_than_the_gap():
    times = [T0, T0 + MIN, T0 + 40 * MIN, T0 + 50 * MIN]
    assert sessions(times, 30 * MIN) == [(T0, T0 + MIN), (T0 + 40 * MIN, T0 + 50 * MIN)]
    assert sessions([], 30 * MIN) == []


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (lambda: Stalled(flow="wizard", step="profile", after_hours=0), "after_hours"),
        (lambda: Stalled(flow="wizard", step="profile", holdout=1.5), "holdout"),
        (lambda: FewLogins(flow="wizard", days=10, within_days=5), "within_days"),
        (lambda: SlowStep(flow="wizard", step="profile", factor=-1), "factor"),
    ],
)
def test_bad_rule_options_are_refused_naming_the_option(rule, message):
    with pytest.raises(ValueError, match=message):
        rule()


@pytest.mark.django_db
def test_rule_for_an_unknown_step_names_it(nudge_rules):
    from onboarding.exceptions import UnknownStep

    nudge_rules(Stalled(flow="wizard", step="nope"))
    with pytest.raises(UnknownStep, match="nope"):
        evaluate(now=NOW)


@pytest.mark.django_db
def test_short_first_session_is_a_red_flag_once_the_session_is_over(nudge_rules):
    nudge_rules(ShortFirstSession(flow="wizard", holdout=0))
    brief, long, ongoing = UserFactory(), UserFactory(), UserFactory()
    start = NOW - timedelta(days=2)
    track(brief, "wizard", "signup", occurred_at=start)
    track(brief, "wizard", "profile", kind="viewed", occurred_at=start + MIN)
    track(long, "wizard", "signup", occurred_at=start)
    track(long, "wizard", "profile", kind="viewed", occurred_at=start + 5 * MIN)
    track(ongoing, "wizard", "signup", occurred_at=NOW - 10 * MIN)

    assert due_users() == {str(brief.pk)}
    assert NudgeDelivery.objects.get().step_key == "profile"


@pytest.mark.django_db
def test_a_login_continues_the_first_session(nudge_rules):
    nudge_rules(ShortFirstSession(flow="wizard", holdout=0))
    user = UserFactory()
    start = NOW - timedelta(days=2)
    track(user, "wizard", "signup", occurred_at=start)
    record_login(user, at=start + 10 * MIN)
    assert due_users() == set()


@pytest.mark.django_db
def test_logins_are_recorded_from_the_user_logged_in_signal(client, user):
    client.force_login(user)
    client.force_login(user)
    logins = Login.objects.filter(user=user)
    assert logins.count() == 2
    assert {login.subject_id for login in logins} == {str(user.pk)}


@pytest.mark.django_db
def test_fewer_than_two_logins_in_the_first_ten_days(nudge_rules):
    nudge_rules(FewLogins(flow="wizard", holdout=0))
    once, twice, fresh, late = UserFactory(), UserFactory(), UserFactory(), UserFactory()
    for user, entered in [(once, 11), (twice, 11), (fresh, 5), (late, 11)]:
        track(user, "wizard", "signup", occurred_at=NOW - timedelta(days=entered))
    record_login(once, at=NOW - timedelta(days=11))
    record_login(twice, at=NOW - timedelta(days=11))
    record_login(twice, at=NOW - timedelta(days=4))
    record_login(late, at=NOW - timedelta(days=11))
    record_login(late, at=NOW - timedelta(hours=1))  # after the first ten days: not counted

    assert due_users() == {str(once.pk), str(late.pk)}


@pytest.mark.django_db
def test_a_step_taking_three_times_its_median_is_a_red_flag(nudge_rules):
    nudge_rules(SlowStep(flow="wizard", step="profile", holdout=0, min_samples=5))
    for _ in range(5):  # median: 1 h from signup to profile
        user = UserFactory()
        track(user, "wizard", "signup", occurred_at=NOW - timedelta(days=5))
        complete(user, "wizard", "profile", occurred_at=NOW - timedelta(days=5, hours=-1))
    slow, normal = UserFactory(), UserFactory()
    track(slow, "wizard", "signup", occurred_at=NOW - timedelta(hours=3, minutes=1))
    track(normal, "wizard", "signup", occurred_at=NOW - timedelta(hours=2))

    assert due_users() == {str(slow.pk)}


@pytest.mark.django_db
def test_slow_step_is_silent_below_its_minimum_sample(nudge_rules):
    nudge_rules(SlowStep(flow="wizard", step="profile", holdout=0, min_samples=5))
    track(UserFactory(), "wizard", "signup", occurred_at=NOW - timedelta(days=5))
    assert due_users() == set()


def trial_ends(subject):
    return subject.date_joined + timedelta(days=14)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("joined_days_ago", "due_72", "due_24"),
    [(11.5, True, False), (13.5, True, True), (10, False, False), (15, False, False)],
)
def test_trial_ending_in_72_and_24_hours(nudge_rules, joined_days_ago, due_72, due_24):
    nudge_rules(
        TrialEnding(flow="wizard", trial_ends=trial_ends, hours_before=72, holdout=0),
        TrialEnding(
            flow="wizard",
            trial_ends="tests.test_nudges_rules.trial_ends",
            hours_before=24,
            holdout=0,
        ),
    )
    user = UserFactory(date_joined=NOW - timedelta(days=joined_days_ago))
    track(user, "wizard", "signup", occurred_at=NOW - timedelta(days=1))
    evaluate(now=NOW, enqueue=lambda pk: None)
    keys = set(NudgeDelivery.objects.values_list("rule__key", flat=True))
    expected = {
        key
        for key, due in [("wizard.trial_ending.72h", due_72), ("wizard.trial_ending.24h", due_24)]
        if due
    }
    assert keys == expected


def test_two_proportion_z_test_matches_the_textbook_value():
    # 60/100 vs 40/100: pooled 0.5, z = 2.828, two-sided p = 0.00468.
    assert two_proportion_p_value(60, 100, 40, 100) == pytest.approx(0.004678, abs=1e-6)
    assert two_proportion_p_value(5, 10, 5, 10) == pytest.approx(1.0)
    assert two_proportion_p_value(0, 10, 0, 10) is None
    assert two_proportion_p_value(1, 0, 1, 10) is None


def _nudged_group(rule, status, size, converted, *, convert_after=timedelta(days=1)):
    for index in range(size):
        user = UserFactory()
        track(user, "wizard", "signup", occurred_at=NOW - timedelta(days=3))
        progress = Progress.objects.get(subject_id=str(user.pk))
        NudgeDelivery.objects.create(
            rule=rule,
            progress=progress,
            subject_type_id=progress.subject_type_id,
            subject_id=progress.subject_id,
            step_key="profile",
            status=status,
            created_at=NOW - timedelta(days=2),
        )
        if index < converted:
            at = NOW - timedelta(days=2) + convert_after
            complete(user, "wizard", "profile", occurred_at=at)


@pytest.fixture
def lift_rule(db, nudge_rules):
    from onboarding.nudges.mirror import sync_rule

    return sync_rule(nudge_rules(Stalled(flow="wizard", step="profile", after_hours=24)))


def test_lift_compares_next_step_conversion_of_sent_and_held_out(lift_rule):
    _nudged_group(lift_rule, DeliveryStatus.SENT, 20, 12)
    _nudged_group(lift_rule, DeliveryStatus.HELD_OUT, 10, 3)
    _nudged_group(lift_rule, DeliveryStatus.SENT, 2, 2, convert_after=timedelta(days=30))

    lift = rule_lift(lift_rule.pk)

    assert (lift.sent, lift.sent_converted, lift.held_out, lift.held_out_converted) == (
        22,
        12,
        10,
        3,
    )
    assert lift.difference == pytest.approx(12 / 22 - 0.3)
    # The verdict's test is the always-valid one, nudged (all not held out) against held out.
    assert (lift.assigned, lift.assigned_converted) == (22, 12)
    expected = sequential_test(Proportion(3, 10), Proportion(12, 22))
    assert lift.test == expected and lift.p_value == expected.p_value
    fixed = rule_lift(lift_rule.pk, method="fixed")
    assert fixed.p_value == pytest.approx(two_proportion_p_value(12, 22, 3, 10))


def test_lift_checks_the_held_out_share_against_the_rules_holdout(lift_rule):
    lift_rule.holdout = 0.5
    lift_rule.save()
    _nudged_group(lift_rule, DeliveryStatus.SENT, 20, 12)
    _nudged_group(lift_rule, DeliveryStatus.HELD_OUT, 20, 3)
    assert not rule_lift(lift_rule.pk).sample_ratio.mismatch

    _nudged_group(lift_rule, DeliveryStatus.SENT, 40, 10)
    lift = rule_lift(lift_rule.pk)

    assert lift.sample_ratio.mismatch  # 60 nudged against 20 held out at a 50 % holdout
    assert lift.verdict.startswith("No verdict: the split of subjects is not the declared one")


def test_admin_shows_sent_held_out_lift_and_p_value_per_rule(lift_rule, admin_client):
    _nudged_group(lift_rule, DeliveryStatus.SENT, 10, 6)
    _nudged_group(lift_rule, DeliveryStatus.HELD_OUT, 10, 2)

    page = admin_client.get(reverse("admin:onboarding_nudgerule_changelist"))

    assert page.status_code == 200
    html = page.content.decode()
    assert lift_rule.key in html
    assert "60.0 %" in html and "20.0 %" in html and "+40.0 pp" in html
    p = sequential_test(Proportion(2, 10), Proportion(6, 10)).p_value
    assert f"{p:.3g} (always valid)" in html
    deliveries = admin_client.get(reverse("admin:onboarding_nudgedelivery_changelist"))
    assert deliveries.status_code == 200
    assert "held out" in deliveries.content.decode()


@pytest.mark.django_db
def test_command_evaluates_and_reports_per_rule(
    nudge_rules, capsys, django_capture_on_commit_callbacks
):
    nudge_rules(Stalled(flow="wizard", step="profile", after_hours=24, holdout=0))
    user = UserFactory()
    track(user, "wizard", "signup", occurred_at=NOW - timedelta(days=2))

    with django_capture_on_commit_callbacks(execute=True):
        call_command("onboarding_nudge", "--now", NOW.isoformat())

    out = capsys.readouterr().out
    assert "wizard.stalled.profile.24h: scanned 1 in 1 batches, due 1," in out
    assert "opted out 0, held out 0, queued 1" in out
    assert NudgeRule.objects.get().key == "wizard.stalled.profile.24h"
    assert [message.to for message in mail.outbox] == [[user.email]]


@pytest.mark.django_db
def test_command_names_an_unknown_rule(nudge_rules):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="'nope'"):
        call_command("onboarding_nudge", "--rule", "nope")


def test_the_lift_verdict_names_the_groups_and_the_step(lift_rule, settings):
    settings.ONBOARDING = {"EXPERIMENT_TUNING_SUBJECTS": 50}
    lift_rule.holdout = 0.5
    lift_rule.save()
    _nudged_group(lift_rule, DeliveryStatus.SENT, 25, 20)
    _nudged_group(lift_rule, DeliveryStatus.HELD_OUT, 25, 5)

    lift = rule_lift(lift_rule.pk)

    assert lift.verdict.startswith(
        "nudged reaches “profile” 60.0 points more often than held out (95 % interval "
    )
    assert lift.verdict.endswith(": significant.")
