"""GDPR erasure: nothing names the subject afterwards, funnel counts stay, later events refused."""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import override_settings
from rest_framework.test import APIClient

from onboarding import track
from onboarding.api.keys import create_key
from onboarding.erase import erase_subject, pseudonym
from onboarding.exceptions import SubjectErased
from onboarding.funnel import FunnelQuery
from onboarding.models import ErasedSubject, Event, Progress, StepState
from onboarding.nudges import Stalled
from onboarding.nudges.evaluate import evaluate
from onboarding.nudges.models import Login, NudgeDelivery, NudgeOptOut, NudgeRule
from onboarding.progress import get_progress
from onboarding.webhooks.models import WebhookDelivery
from tests.factories import MembershipFactory, TeamFactory, UserFactory

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=timezone.utc)
STEPS = [("signup", 0), ("profile", 60), ("project", 300), ("publish", 900)]
TEAM_RESOLVER = {"SUBJECT_RESOLVER": "tests.test_erase.team_of"}
# Deliveries are recorded with the events; never sent here (no commit in these tests).
WEBHOOKS = {"WEBHOOKS": [{"url": "https://hooks.example.com/x", "secret": "s3cret-s3cret-s3cret"}]}
EVENTS_URL = "/onboarding/api/events/"

pytestmark = pytest.mark.django_db


def team_of(user):
    membership = getattr(user, "membership", None)
    return membership.team if membership else None


@pytest.fixture(autouse=True)
def _clear_throttles():
    cache.clear()


def walk(who, steps=STEPS, start=T0):
    for step, seconds in steps:
        track(
            who,
            "wizard",
            step,
            occurred_at=start + timedelta(seconds=seconds),
            properties={"email": "ada@example.com"},
        )


def funnel_numbers():
    result = FunnelQuery(flow="wizard").run()
    return (
        result.entered,
        result.finished,
        result.median_time_to_finish,
        [(step.key, step.reached, step.median_time) for step in result.steps],
    )


def nudge_rows(user):
    """A delivery (with recipients) and an opt-out and a login, as the nudges leave them."""
    progress = Progress.objects.get(subject_id=str(user.pk))
    rule = NudgeRule.objects.create(
        key="r", flow=progress.flow, kind="stalled", template="t", holdout=0.0
    )
    user_type = ContentType.objects.get_for_model(user)
    NudgeDelivery.objects.create(
        rule=rule,
        progress=progress,
        subject_type=user_type,
        subject_id=str(user.pk),
        subject_label=str(user),
        recipients=[user.email],
        last_error=f"550 no mailbox {user.email}",
    )
    NudgeOptOut.objects.create(subject_type=user_type, subject_id=str(user.pk))
    Login.objects.create(user=user, subject_type=user_type, subject_id=str(user.pk))


def test_nothing_names_an_erased_user_and_funnel_counts_stay(user, other_user):
    walk(user)
    walk(other_user, STEPS[:2], start=T0 + timedelta(hours=1))
    nudge_rows(user)
    before = funnel_numbers()
    states_before = sorted(
        StepState.objects.filter(progress__subject_id=str(user.pk)).values_list(
            "step_key", "outcome", "completed_at"
        )
    )

    report = erase_subject(user)

    alias = report.pseudonym
    assert alias != str(user.pk)
    assert (report.newly_erased, report.events, report.progress) == (True, 4, 1)
    assert (report.nudge_deliveries, report.opt_outs, report.logins_deleted) == (1, 1, 1)
    assert not Event.objects.filter(subject_id=str(user.pk)).exists()
    erased_events = Event.objects.filter(subject_id=alias)
    assert erased_events.count() == 4
    assert {(e.actor_id, str(e.properties)) for e in erased_events} == {(None, "{}")}
    progress = Progress.objects.get(subject_id=alias)
    assert progress.subject_label == ""
    delivery = NudgeDelivery.objects.get()
    assert (delivery.subject_id, delivery.subject_label) == (alias, "")
    assert (delivery.recipients, delivery.last_error) == ([], "")
    assert NudgeOptOut.objects.get().subject_id == alias
    assert not Login.objects.exists()
    # The other user is untouched; counts, step times and outcomes are the same.
    assert Event.objects.filter(subject_id=str(other_user.pk)).count() == 2
    assert funnel_numbers() == before
    assert before[0:2] == (2, 1)
    assert states_before == sorted(
        progress.step_states.values_list("step_key", "outcome", "completed_at")
    )


def test_erasing_again_changes_nothing(user):
    walk(user)
    first = erase_subject(user)
    events = list(Event.objects.values_list("id", "subject_id", "actor_id", "properties"))

    again = erase_subject(user)

    assert again.pseudonym == first.pseudonym
    assert (again.newly_erased, again.changed) == (False, 0)
    assert list(Event.objects.values_list("id", "subject_id", "actor_id", "properties")) == events
    assert ErasedSubject.objects.count() == 1


def test_pseudonyms_are_stable_distinct_keys_no_row_has(user, other_user):
    user_type = ContentType.objects.get_for_model(user)
    one = pseudonym(user_type, user.pk)

    assert one == pseudonym(user_type, str(user.pk))
    assert one != pseudonym(user_type, other_user.pk)
    # Still an integer key (negative), so lookups by it find nothing instead of failing.
    assert int(one) < 0
    session_type = ContentType.objects.get_for_model(Session)
    assert pseudonym(session_type, "abc").startswith("erased-")
    with override_settings(SECRET_KEY="another"):
        assert pseudonym(user_type, user.pk) != one


def test_later_events_of_an_erased_subject_are_refused(user):
    walk(user, STEPS[:1])
    erase_subject(user)

    with pytest.raises(SubjectErased, match=f"auth.user {user.pk} was erased"):
        track(user, "wizard", "profile")

    assert not Progress.objects.filter(subject_id=str(user.pk)).exists()
    assert Event.objects.count() == 1
    assert get_progress(user, "wizard").done == 0


def test_the_api_refuses_an_erased_users_events_with_400(user):
    erase_subject(user)
    client = APIClient()
    client.force_login(user)

    batch = client.post(
        EVENTS_URL,
        {
            "events": [
                {"id": str(uuid.uuid4()), "flow": "wizard", "step": "signup", "kind": "viewed"}
            ]
        },
        format="json",
    )
    action = client.post("/onboarding/api/flows/wizard/steps/signup/complete/", {}, format="json")

    assert batch.status_code == 400
    [error] = batch.json()["errors"]
    assert (error["index"], error["field"]) == (0, "subject")
    assert "was erased" in error["message"]
    assert action.status_code == 400
    assert "was erased" in action.json()["subject"][0]
    assert not Event.objects.exists()


def test_an_api_key_batch_keeps_the_other_subjects_events(user, other_user):
    erase_subject(user)
    _api_key, key = create_key("crm")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")

    def event(who):
        return {
            "id": str(uuid.uuid4()),
            "flow": "wizard",
            "step": "signup",
            "kind": "completed",
            "subject": {"type": "auth.user", "id": str(who.pk)},
        }

    response = client.post(EVENTS_URL, {"events": [event(other_user), event(user)]}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicates"]) == (1, 0)
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(1, "subject")]
    assert Event.objects.get().subject_id == str(other_user.pk)


@override_settings(ONBOARDING=TEAM_RESOLVER)
def test_erasing_a_member_unnames_the_team_events_and_keeps_the_team():
    ada, bob = UserFactory(), UserFactory()
    team = TeamFactory()
    MembershipFactory(team=team, user=ada)
    MembershipFactory(team=team, user=bob)
    walk(ada, STEPS[:2])
    walk(bob, STEPS[2:])
    Login.objects.create(
        user=ada, subject_type=ContentType.objects.get_for_model(team), subject_id=str(team.pk)
    )

    report = erase_subject(ada)

    assert (report.events, report.actor_cleared, report.logins_deleted) == (0, 2, 1)
    team_events = Event.objects.filter(subject_id=str(team.pk))
    assert sorted(team_events.values_list("actor_id", flat=True), key=str) == [
        bob.pk,
        bob.pk,
        None,
        None,
    ]
    assert get_progress(bob, "wizard").done == 4
    assert track(bob, "wizard", "invite").accepted == 1


@override_settings(ONBOARDING={**TEAM_RESOLVER, **WEBHOOKS})
def test_an_erased_member_acting_for_a_team_is_recorded_with_no_actor():
    ada, bob = UserFactory(), UserFactory()
    team = TeamFactory()
    MembershipFactory(team=team, user=ada)
    MembershipFactory(team=team, user=bob)
    walk(bob, STEPS[:1])
    erase_subject(ada)

    # The team is not erased: its events count, but none names Ada (no SubjectErased).
    assert track(ada, "wizard", "profile").accepted == 1
    track(bob, "wizard", "project")

    actors = dict(Event.objects.values_list("step_key", "actor_id"))
    assert actors == {"signup": bob.pk, "profile": None, "project": bob.pk}
    assert get_progress(bob, "wizard").done == 3
    webhook_actors = {row.step_key: row.payload["actor"] for row in WebhookDelivery.objects.all()}
    assert webhook_actors == {"signup": bob.pk, "profile": None, "project": bob.pk}


@override_settings(ONBOARDING=WEBHOOKS)
def test_erasing_a_user_cleans_its_webhook_log(user, other_user):
    walk(user)
    walk(other_user, STEPS[:1])
    assert WebhookDelivery.objects.count() == 6  # 4 steps and the finish, 1 step

    report = erase_subject(user)

    assert report.webhook_deliveries == 5
    erased = WebhookDelivery.objects.filter(payload__subject__id=report.pseudonym)
    assert erased.count() == 5
    for row in erased:
        assert row.subject_label == ""
        assert row.payload["actor"] is None
        assert row.payload["subject"] == {"type": "auth.user", "id": report.pseudonym}
    other = WebhookDelivery.objects.get(payload__subject__id=str(other_user.pk))
    assert other.subject_label == str(other_user)
    assert other.payload["actor"] == other_user.pk
    assert erase_subject(user).webhook_deliveries == 0  # erasing again changes nothing


@override_settings(ONBOARDING={**TEAM_RESOLVER, **WEBHOOKS})
def test_erasing_a_member_unnames_it_in_the_teams_webhook_log():
    ada, bob = UserFactory(), UserFactory()
    team = TeamFactory(name="Acme")
    MembershipFactory(team=team, user=ada)
    MembershipFactory(team=team, user=bob)
    walk(ada, STEPS[:2])
    walk(bob, STEPS[2:])

    report = erase_subject(ada)

    assert report.webhook_deliveries == 2
    rows = {row.step_key or "finished": row for row in WebhookDelivery.objects.all()}
    assert {key: row.payload["actor"] for key, row in rows.items()} == {
        "signup": None,
        "profile": None,
        "project": bob.pk,
        "publish": bob.pk,
        "finished": bob.pk,
    }
    # The team is not erased: its label and id stay.
    assert {row.subject_label for row in rows.values()} == {str(team)}
    assert {row.payload["subject"]["id"] for row in rows.values()} == {str(team.pk)}


@override_settings(ONBOARDING=TEAM_RESOLVER)
def test_erasing_a_team_anonymizes_its_progress_and_refuses_its_members():
    ada = UserFactory()
    team = TeamFactory(name="Acme")
    MembershipFactory(team=team, user=ada)
    walk(ada)

    report = erase_subject(team)

    assert (report.events, report.progress) == (4, 1)
    progress = Progress.objects.get()
    assert (progress.subject_id, progress.subject_label) == (report.pseudonym, "")
    assert progress.finished_at is not None
    assert set(Event.objects.values_list("actor_id", flat=True)) == {None}
    with pytest.raises(SubjectErased):
        track(ada, "wizard", "invite")


def test_nudges_pass_over_erased_subjects_without_error(user, nudge_rules):
    nudge_rules(Stalled(flow="wizard", step="profile", after_hours=24, holdout=0))
    walk(user, STEPS[:1])
    erase_subject(user)

    [report] = evaluate(now=T0 + timedelta(days=3), enqueue=lambda pk: None)

    assert report.scanned == 1
    assert not Event.objects.filter(kind="nudged").exists()


def test_the_command_erases_by_type_and_id_even_after_the_user_is_deleted():
    user = UserFactory()
    walk(user, STEPS[:2])
    user_id = user.pk
    user.delete()
    out = io.StringIO()

    call_command("onboarding_erase", "auth.User", str(user_id), stdout=out)
    call_command("onboarding_erase", "auth.user", str(user_id), stdout=out)

    first, second = out.getvalue().splitlines()
    assert first.startswith(
        f"auth.User {user_id}: erased; anonymized 2 event(s), 1 progress row(s)"
    )
    assert second.startswith(f"auth.user {user_id}: already erased; anonymized 0 event(s)")
    assert not Event.objects.filter(subject_id=str(user_id)).exists()


def test_the_command_names_an_unknown_type(db):
    with pytest.raises(CommandError, match=r"'auth\.nobody'"):
        call_command("onboarding_erase", "auth.nobody", "1")
