"""Nudges end to end in one process (Celery eager): claim, holdout, opt-out, e-mail, retry."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse

from onboarding.models import Event
from onboarding.nudges import Stalled
from onboarding.nudges.evaluate import evaluate
from onboarding.nudges.holdout import held_out
from onboarding.nudges.models import DeliveryStatus, NudgeDelivery, NudgeOptOut
from onboarding.nudges.optout import unsubscribe_token
from onboarding.subjects import ref
from tests.factories import UserFactory
from tests.flaky_mail import FlakyBackend
from tests.nudge_helpers import T0

NOW = T0 + timedelta(days=3)
pytestmark = pytest.mark.django_db


@pytest.fixture
def profile_rule(nudge_rules):
    return nudge_rules(Stalled(flow="wizard", step="profile", after_hours=24, holdout=0))


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Evaluate at NOW and run the sends queued after commit (eagerly)."""

    def _run(**options):
        with django_capture_on_commit_callbacks(execute=True):
            return evaluate(now=NOW, **options)

    return _run


def stalled(hours_ago, **fields):
    from onboarding import track

    user = UserFactory(**fields)
    track(user, "wizard", "signup", occurred_at=NOW - timedelta(hours=hours_ago))
    return user


def test_stalled_subject_gets_one_email_with_text_html_and_unsubscribe_link(profile_rule, run):
    user = stalled(25)
    stalled(23)  # not yet due

    [report] = run()

    assert (report.scanned, report.due, report.claimed, report.queued) == (2, 1, 1, 1)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [user.email]
    assert message.subject == "Next up: Fill in your profile"
    assert "The next step is: Fill in your profile." in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "<strong>Fill in your profile</strong>" in html
    link = reverse("onboarding:nudge-unsubscribe", args=[unsubscribe_token(user)])
    assert link in message.body
    assert message.extra_headers["List-Unsubscribe"] == f"<{link}>"
    delivery = NudgeDelivery.objects.get()
    assert (delivery.status, delivery.step_key, delivery.attempts) == ("sent", "profile", 1)
    assert delivery.recipients == [user.email]


def test_a_send_records_one_nudged_event_through_track(profile_rule, run):
    user = stalled(30)
    run()
    nudged = Event.objects.get(kind="nudged")
    assert (nudged.step_key, nudged.source, nudged.subject_id) == ("profile", "nudge", str(user.pk))
    assert nudged.properties["rule"] == profile_rule.rule_key


def test_at_most_once_per_rule_and_subject_across_evaluations(profile_rule, run):
    stalled(30)
    run()
    [again] = run()
    assert (again.scanned, again.due, again.claimed) == (1, 0, 0)
    assert len(mail.outbox) == 1
    assert NudgeDelivery.objects.count() == 1


def test_completed_skipped_or_unreached_steps_are_not_nudged(profile_rule, run):
    from onboarding import complete, skip

    done = stalled(30)
    complete(done, "wizard", "profile", occurred_at=NOW - timedelta(hours=2))
    declined = stalled(30)
    skip(declined, "wizard", "profile", occurred_at=NOW - timedelta(hours=2))
    [report] = run()
    assert report.due == 0
    assert mail.outbox == []


def test_waiting_counts_from_the_previous_required_step(nudge_rules, run):
    from onboarding import complete, track

    nudge_rules(Stalled(flow="wizard", step="project", after_hours=24, holdout=0))
    user = UserFactory()
    track(user, "wizard", "signup", occurred_at=NOW - timedelta(hours=60))
    complete(user, "wizard", "profile", occurred_at=NOW - timedelta(hours=10))
    [report] = run()
    assert report.due == 0  # signed up long ago, but finished the previous step 10 h ago


def test_holdout_share_gets_a_row_and_no_email(nudge_rules, run):
    rule = nudge_rules(Stalled(flow="wizard", step="profile", after_hours=24, holdout=0.3))
    users = [stalled(30) for _ in range(60)]
    expected = [u for u in users if held_out(rule.rule_key, ref(u).type_id, str(u.pk), 0.3)]

    [report] = run()

    assert 5 <= len(expected) <= 35  # the hash spreads subjects, it does not pick all or none
    assert report.held_out == len(expected)
    held = NudgeDelivery.objects.filter(status=DeliveryStatus.HELD_OUT)
    assert set(held.values_list("subject_id", flat=True)) == {str(u.pk) for u in expected}
    assert len(mail.outbox) == 60 - len(expected)
    assert Event.objects.filter(kind="nudged").count() == 60 - len(expected)
    assert {m.to[0] for m in mail.outbox}.isdisjoint({u.email for u in expected})


def test_default_holdout_is_ten_percent(nudge_rules, run):
    rule = nudge_rules(Stalled(flow="wizard", step="profile", after_hours=1))
    users = [stalled(30) for _ in range(40)]
    expected = sum(held_out(rule.rule_key, ref(u).type_id, str(u.pk), 0.10) for u in users)
    run()
    assert NudgeDelivery.objects.filter(status="held_out").count() == expected
    assert len(mail.outbox) == 40 - expected
    assert NudgeDelivery.objects.values("rule__holdout").distinct().get() == {"rule__holdout": 0.1}


def test_opted_out_subjects_get_no_row_and_no_email(profile_rule, run, settings):
    settings.ONBOARDING = {"NUDGE_OPTED_OUT": "tests.test_nudges.opted_out_by_name"}
    by_setting = stalled(30, username="nomail-setting")
    by_link = stalled(30)
    NudgeOptOut.objects.create(subject_type_id=ref(by_link).type_id, subject_id=str(by_link.pk))
    welcome = stalled(30)

    [report] = run()

    assert (report.due, report.opted_out, report.claimed) == (3, 2, 1)
    assert [m.to for m in mail.outbox] == [[welcome.email]]
    assert not NudgeDelivery.objects.exclude(subject_id=str(welcome.pk)).exists()
    assert str(by_setting.pk) != str(welcome.pk)


def opted_out_by_name(subject):
    return subject.username.startswith("nomail")


def test_unsubscribe_link_confirms_on_get_and_opts_out_on_post(profile_rule, run, client):
    user = stalled(30)
    url = reverse("onboarding:nudge-unsubscribe", args=[unsubscribe_token(user)])

    page = client.get(url)
    assert page.status_code == 200
    assert b"Stop receiving onboarding e-mails?" in page.content
    assert not NudgeOptOut.objects.exists()

    done = client.post(url)  # no CSRF token: one-click unsubscribe posts without one
    assert done.status_code == 200
    assert b"You are unsubscribed" in done.content
    optout = NudgeOptOut.objects.get()
    assert (optout.subject_id, optout.source) == (str(user.pk), "unsubscribe")
    assert client.post(url).status_code == 200  # twice is fine
    assert NudgeOptOut.objects.count() == 1

    run()
    assert mail.outbox == []


def test_a_forged_unsubscribe_token_is_404(client, user):
    token = unsubscribe_token(user)
    assert (
        client.post(reverse("onboarding:nudge-unsubscribe", args=[token + "x"])).status_code == 404
    )
    assert not NudgeOptOut.objects.exists()


def test_a_send_failing_three_times_then_succeeding_gives_one_email_and_one_row(
    profile_rule, run, settings
):
    settings.EMAIL_BACKEND = "tests.flaky_mail.FlakyBackend"
    FlakyBackend.attempts, FlakyBackend.failures = 0, 3
    stalled(30)

    run()

    assert FlakyBackend.attempts == 4
    assert len(mail.outbox) == 1
    delivery = NudgeDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 4, "")
    assert Event.objects.filter(kind="nudged").count() == 1


def test_a_send_failing_past_the_last_retry_stays_failed(profile_rule, run, settings):
    settings.EMAIL_BACKEND = "tests.flaky_mail.FlakyBackend"
    settings.ONBOARDING = {"NUDGE_SEND_MAX_RETRIES": 2}
    FlakyBackend.attempts, FlakyBackend.failures = 0, 100
    stalled(30)

    run()  # the task fails; the evaluation that queued it does not

    assert FlakyBackend.attempts == 3  # the first try and two retries
    delivery = NudgeDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert "flaky: attempt 3 fails" in delivery.last_error
    assert mail.outbox == []
    assert not Event.objects.filter(kind="nudged").exists()


def test_every_retry_the_setting_allows_is_made_past_celerys_default_of_three(
    profile_rule, run, settings
):
    settings.EMAIL_BACKEND = "tests.flaky_mail.FlakyBackend"
    FlakyBackend.attempts, FlakyBackend.failures = 0, 5  # NUDGE_SEND_MAX_RETRIES is 5
    stalled(30)

    run()

    assert FlakyBackend.attempts == 6
    delivery = NudgeDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("sent", 6)
    assert len(mail.outbox) == 1


def test_subject_without_address_is_marked_no_recipient(profile_rule, run):
    stalled(30, email="")
    run()
    assert NudgeDelivery.objects.get().status == "no_recipient"
    assert mail.outbox == []


def test_recipients_and_language_come_from_settings(profile_rule, run, settings):
    settings.ONBOARDING = {"NUDGE_RECIPIENTS": "tests.test_nudges.two_addresses"}
    stalled(30, username="ann")
    run()
    assert mail.outbox[0].to == ["ann@team.example", "boss@team.example"]


def two_addresses(subject):
    return [f"{subject.username}@team.example", "boss@team.example", ""]


def test_templates_are_overridable_per_rule(nudge_rules, run, settings, tmp_path):
    folder = tmp_path / "custom"
    folder.mkdir()
    (folder / "hi_subject.txt").write_text("Hello {{ subject.username }}\n")
    (folder / "hi.txt").write_text("Go to {{ step.title }}: {{ unsubscribe_url }}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    settings.ONBOARDING = {"NUDGE_BASE_URL": "https://app.example.com/"}
    nudge_rules(
        Stalled(flow="wizard", step="profile", after_hours=1, holdout=0, template="custom/hi")
    )
    stalled(30, username="zoe")

    run()

    [message] = mail.outbox
    assert message.subject == "Hello zoe"
    assert message.body.startswith("Go to Fill in your profile: https://app.example.com/")
    assert message.alternatives == []  # no HTML template: text only


def test_bounded_batches_read_a_constant_number_of_queries_per_batch(
    profile_rule, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(subjects: int) -> int:
        NudgeDelivery.objects.all().delete()
        for _ in range(subjects):
            stalled(30)
        with CaptureQueriesContext(connection) as captured:
            [report] = evaluate(now=NOW, batch_size=50, enqueue=lambda pk: None)
        assert report.claimed == NudgeDelivery.objects.count()
        return len(captured)

    queries(1)  # the first evaluation also mirrors the flow and the rule
    small = queries(5)
    larger = queries(15)  # 21 subjects now, still one batch
    assert larger == small

    [report] = evaluate(now=NOW, batch_size=6, enqueue=lambda pk: None)
    assert (report.batches, report.scanned, report.claimed) == (4, 21, 0)


def test_a_row_claimed_by_a_concurrent_evaluation_is_not_queued_again(
    profile_rule, monkeypatch, django_capture_on_commit_callbacks
):
    from onboarding.models import Progress
    from onboarding.nudges import evaluate as evaluate_module
    from onboarding.nudges.mirror import sync_rule

    first, second = stalled(30), stalled(30)
    progress = Progress.objects.get(subject_id=str(first.pk))
    # Another evaluator inserted this row after our check for existing rows.
    NudgeDelivery.objects.create(
        rule=sync_rule(profile_rule),
        progress=progress,
        subject_type_id=progress.subject_type_id,
        subject_id=progress.subject_id,
        step_key="profile",
        status=DeliveryStatus.SENT,
    )
    monkeypatch.setattr(evaluate_module, "_already", lambda rule_row, batch: set())
    queued = []

    with django_capture_on_commit_callbacks(execute=True):
        [report] = evaluate(now=NOW, enqueue=queued.append)

    assert (report.due, report.claimed, report.queued) == (2, 1, 1)
    assert queued == [NudgeDelivery.objects.get(subject_id=str(second.pk)).pk]
