"""The sweeper: claims whose send was lost are queued again, stuck sends go to staff."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from onboarding import track
from onboarding.models import Event
from onboarding.nudges import Stalled
from onboarding.nudges.delivery import schedule_retry
from onboarding.nudges.evaluate import evaluate
from onboarding.nudges.models import DeliveryStatus, NudgeDelivery
from onboarding.sweeper import SweepResult, sweep, sweepables
from tests.factories import UserFactory
from tests.nudge_helpers import T0

pytestmark = pytest.mark.django_db

NOW = T0 + timedelta(days=3)
LATER = timedelta(seconds=601)  # past NUDGE_SWEEP_AFTER_SECONDS (600)
CHANGELIST = "admin:onboarding_nudgedelivery_changelist"


@pytest.fixture
def lost_claim(nudge_rules, django_capture_on_commit_callbacks):
    """A stalled subject's claim whose send was never queued (the worker died)."""
    nudge_rules(Stalled(flow="wizard", step="profile", after_hours=24, holdout=0))
    user = UserFactory()
    track(user, "wizard", "signup", occurred_at=NOW - timedelta(hours=30))
    lost = []
    with django_capture_on_commit_callbacks(execute=True):
        evaluate(now=NOW, enqueue=lost.append)
    delivery = NudgeDelivery.objects.get()
    assert lost == [delivery.pk] and delivery.status == DeliveryStatus.PENDING
    return delivery


@pytest.fixture
def registry():
    """Sweepables added by a test are removed afterwards."""
    saved = {name: sweepables.get(name) for name in sweepables.names()}
    yield sweepables
    for name in sweepables.names():
        sweepables.unregister(name)
    for name, function in saved.items():
        sweepables.register(name, function)


# The nudges' sweepable alone (webhook deliveries are the other one registered).
NUDGES = ["nudges"]


def _stuck(delivery, status=DeliveryStatus.SENDING):
    NudgeDelivery.objects.filter(pk=delivery.pk).update(
        status=status, attempts=1, attempt_at=timezone.now() - LATER
    )


def test_a_claim_whose_send_was_never_queued_is_queued_again_and_sent_once(lost_claim):
    assert [r.requeued for r in sweep(NUDGES)] == [0]  # not overdue yet: its send may be on its way
    assert mail.outbox == []

    [result] = sweep(NUDGES, now=timezone.now() + LATER)

    assert (result.name, result.requeued, result.needs_attention) == ("nudges", 1, 0)
    lost_claim.refresh_from_db()
    assert (lost_claim.status, lost_claim.attempts) == (DeliveryStatus.SENT, 1)
    assert len(mail.outbox) == 1
    assert [r.requeued for r in sweep(NUDGES, now=timezone.now() + 2 * LATER)] == [0]
    assert len(mail.outbox) == 1
    assert Event.objects.filter(kind="nudged").count() == 1


def test_a_send_waiting_for_its_retry_is_left_to_it(lost_claim):
    schedule_retry(lost_claim.pk, 1800)  # what a failed send does before self.retry()

    assert [r.requeued for r in sweep(NUDGES, now=timezone.now() + LATER)] == [0]
    assert [r.requeued for r in sweep(NUDGES, now=timezone.now() + timedelta(seconds=2401))] == [1]


def test_a_publish_failing_during_the_sweep_leaves_the_claim_for_the_next(lost_claim, monkeypatch):
    from onboarding.nudges import evaluate as evaluate_module

    def broker_down(pk):
        raise ConnectionError("broker down")

    monkeypatch.setattr(evaluate_module, "enqueue_send", broker_down)
    later = timezone.now() + LATER

    [result] = sweep(NUDGES, now=later)

    assert result.requeued == 0 and result.error == "ConnectionError: broker down"
    monkeypatch.undo()
    assert [r.requeued for r in sweep(NUDGES, now=later)] == [1]
    assert len(mail.outbox) == 1


def test_a_send_stuck_in_sending_is_counted_for_staff_and_not_sent_again(lost_claim):
    _stuck(lost_claim)

    [result] = sweep(NUDGES)

    assert (result.requeued, result.needs_attention) == (0, 1)
    assert mail.outbox == []
    assert NudgeDelivery.objects.get().status == DeliveryStatus.SENDING


def test_one_failing_sweepable_does_not_stop_the_others(registry):
    def broken(now):
        raise RuntimeError("no broker")

    registry.register("broken", broken)
    registry.register("webhooks", lambda now: SweepResult(requeued=2))

    results = {result.name: result for result in sweep()}

    assert results["broken"].error == "RuntimeError: no broker"
    assert results["webhooks"].requeued == 2
    assert results["nudges"].error == ""


def test_the_command_prints_each_sweepable_and_fails_naming_the_broken_one(
    lost_claim, registry, capsys
):
    _stuck(lost_claim)
    call_command("onboarding_sweep")
    assert capsys.readouterr().out == (
        "nudges: queued again 0, 1 need staff (see the admin)\nwebhooks: queued again 0\n"
    )

    with pytest.raises(
        CommandError, match="Unknown sweepable 'nope' \\(registered: nudges, webhooks\\)"
    ):
        call_command("onboarding_sweep", "--only", "nope")

    registry.register("broken", lambda now: 1 / 0)
    with pytest.raises(CommandError, match="Sweep failed for broken"):
        call_command("onboarding_sweep", "--only", "broken")


def test_the_sweep_task_is_the_command(lost_claim):
    from onboarding.sweeper.tasks import sweep_lost_tasks

    _stuck(lost_claim, DeliveryStatus.PENDING)

    assert sweep_lost_tasks.delay().get() == [
        {"name": "nudges", "requeued": 1, "needs_attention": 0, "error": ""},
        {"name": "webhooks", "requeued": 0, "needs_attention": 0, "error": ""},
    ]
    assert len(mail.outbox) == 1


# Admin -----------------------------------------------------------------------------


def test_the_changelist_warns_of_stuck_sends_and_filters_them(lost_claim, admin_client):
    response = admin_client.get(reverse(CHANGELIST))
    assert [str(m) for m in response.context["messages"]] == []

    _stuck(lost_claim)
    response = admin_client.get(reverse(CHANGELIST))
    [warning] = [str(m) for m in response.context["messages"]]
    assert warning.startswith("1 delivery has been sending for too long")
    stuck = admin_client.get(reverse(CHANGELIST), {"attention": "stuck"})
    assert list(stuck.context["cl"].result_list) == [lost_claim]
    assert (
        list(
            admin_client.get(reverse(CHANGELIST), {"attention": "overdue"})
            .context["cl"]
            .result_list
        )
        == []
    )


def test_staff_send_a_stuck_delivery_again_and_it_goes_out_once(lost_claim, admin_client):
    _stuck(lost_claim)

    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "send_again", "_selected_action": [lost_claim.pk]},
        follow=True,
    )

    assert "1 delivery queued again." in [str(m) for m in response.context["messages"]]
    lost_claim.refresh_from_db()
    assert (lost_claim.status, lost_claim.attempts) == (DeliveryStatus.SENT, 2)
    assert len(mail.outbox) == 1

    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "send_again", "_selected_action": [lost_claim.pk]},
        follow=True,
    )
    texts = [str(m) for m in response.context["messages"]]
    assert "0 deliveries queued again." in texts
    assert any(text.startswith("1 delivery was left as it is") for text in texts)
    assert len(mail.outbox) == 1  # a sent delivery is not sent again


def test_sending_again_needs_the_change_permission(lost_claim):
    from onboarding.nudges.admin import NudgeDeliveryAdmin

    model_admin = NudgeDeliveryAdmin(NudgeDelivery, admin.site)
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_nudgedelivery"))
    request = RequestFactory().get("/")
    request.user = viewer
    assert "send_again" not in model_admin.get_actions(request)

    editor = UserFactory(is_staff=True)
    editor.user_permissions.add(Permission.objects.get(codename="change_nudgedelivery"))
    request.user = editor
    assert "send_again" in model_admin.get_actions(request)


def test_sending_again_with_the_broker_down_answers_and_leaves_it_to_the_sweeper(
    lost_claim, admin_client, monkeypatch
):
    from onboarding.nudges import evaluate as evaluate_module

    def broker_down(pk):
        raise ConnectionError("broker down")

    _stuck(lost_claim, DeliveryStatus.FAILED)
    monkeypatch.setattr(evaluate_module, "enqueue_send", broker_down)

    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "send_again", "_selected_action": [lost_claim.pk]},
        follow=True,
    )

    assert response.status_code == 200
    [warning] = [str(m) for m in response.context["messages"]]
    assert warning == (
        "1 delivery is pending again, but the broker could not be reached "
        "(ConnectionError: broker down): the sweeper queues it within 15 minutes."
    )
    assert NudgeDelivery.objects.get().status == DeliveryStatus.PENDING
    monkeypatch.undo()
    assert [r.requeued for r in sweep(NUDGES, now=timezone.now() + LATER)] == [1]
    assert len(mail.outbox) == 1
