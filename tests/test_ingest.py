"""Async ingestion in one process (Celery eager): packing, idempotent storing, the 202
answer, retries with backoff, and publishing only after the caller's commit."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import OperationalError
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from onboarding.ingest import enqueue_batch, pack_event
from onboarding.ingest.store import store_packed
from onboarding.ingest.tasks import retry_countdown
from onboarding.models import Event, Progress, StepState
from onboarding.tracking import EventInput
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tests.testapp.models import Membership

pytestmark = pytest.mark.django_db
URL = "/onboarding/api/events/"
ASYNC = {"ASYNC_INGESTION": True}


def team_of(user):
    membership = Membership.objects.filter(user=user).select_related("team").first()
    return membership.team if membership else None


def event(**fields):
    return {"id": str(uuid.uuid4()), "flow": "wizard", "step": "signup", "kind": "completed"} | (
        fields
    )


@pytest.fixture
def api(user):
    cache.clear()
    client = APIClient()
    client.force_login(user)
    return client


def test_a_batch_is_stored_by_the_task_and_a_second_delivery_stores_nothing_twice(user):
    at = timezone.now() - timedelta(hours=1)
    items = [
        EventInput(who=user, flow="wizard", step="signup", occurred_at=at),
        EventInput(who=user, flow="wizard", step="profile", occurred_at=at + timedelta(minutes=5)),
    ]
    packed = [pack_event(item) for item in items]

    first = store_packed(packed)
    again = store_packed(packed)  # the broker delivered the same batch a second time

    assert (first.accepted, first.duplicates) == (2, 0)
    assert (again.accepted, again.duplicates) == (0, 2)
    assert Event.objects.count() == 2
    assert sorted(str(pk) for pk in Event.objects.values_list("id", flat=True)) == sorted(
        one["id"] for one in packed
    )
    state = StepState.objects.get(step_key="profile")
    assert state.completed_at == at + timedelta(minutes=5)


def test_an_event_without_id_or_time_gets_both_when_packed_not_when_stored(user):
    before = timezone.now()

    packed = pack_event(EventInput(who=user, flow="wizard", step="signup"))

    assert uuid.UUID(packed["id"])
    assert packed["subject"][1] == str(user.pk) and packed["actor"] == user.pk
    store_packed([packed])
    stored = Event.objects.get()
    assert str(stored.id) == packed["id"]
    assert before <= stored.occurred_at <= stored.received_at


def test_a_team_member_event_is_packed_for_the_team_and_stored_with_its_actor():
    team = TeamFactory()
    member = MembershipFactory(team=team).user
    with override_settings(ONBOARDING={"SUBJECT_RESOLVER": "tests.test_ingest.team_of"}):
        packed = pack_event(EventInput(who=member, flow="wizard", step="signup"))
        store_packed([packed])

    stored = Event.objects.get()
    assert (stored.subject_id, stored.actor_id) == (str(team.pk), member.pk)


def test_an_event_whose_subject_is_gone_is_refused_and_the_rest_is_stored(user):
    gone = UserFactory()
    packed = [
        pack_event(EventInput(who=user, flow="wizard", step="signup")),
        pack_event(EventInput(who=gone, flow="wizard", step="signup")),
    ]
    gone.delete()

    result = store_packed(packed)

    assert (result.accepted, result.duplicates) == (1, 0)
    assert result.rejected == [{"id": packed[1]["id"], "error": "the subject no longer exists"}]
    assert Event.objects.count() == 1


def test_an_event_the_core_refuses_does_not_sink_the_batch(user):
    good = pack_event(EventInput(who=user, flow="wizard", step="signup"))
    bad = pack_event(EventInput(who=user, flow="wizard", step="signup")) | {"step": "nope"}

    result = store_packed([good, bad])

    assert result.accepted == 1
    assert [row["id"] for row in result.rejected] == [bad["id"]]
    assert "nope" in result.rejected[0]["error"]


def test_enqueue_inside_a_transaction_publishes_only_at_commit(
    user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        batch = enqueue_batch([EventInput(who=user, flow="wizard", step="signup")])
    assert isinstance(batch, uuid.UUID)
    assert (len(callbacks), Event.objects.count()) == (1, 0)

    callbacks[0]()  # the commit: eager Celery stores the batch inline

    assert Event.objects.count() == 1


def test_retries_with_backoff_on_database_errors_then_stores_once(
    user, monkeypatch, django_capture_on_commit_callbacks
):
    from onboarding.ingest import store

    real = store.track_many
    calls = {"n": 0}

    def flaky(items):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise OperationalError("server closed the connection unexpectedly")
        return real(items)

    monkeypatch.setattr(store, "track_many", flaky)
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_batch([EventInput(who=user, flow="wizard", step="signup")])

    assert calls["n"] == 3
    assert Event.objects.count() == 1


def test_the_last_failed_retry_raises_to_the_caller_in_eager_mode(
    user, monkeypatch, django_capture_on_commit_callbacks
):
    from onboarding.ingest import store

    def down(items):
        raise OperationalError("database is down")

    monkeypatch.setattr(store, "track_many", down)
    with (
        override_settings(ONBOARDING={"INGEST_MAX_RETRIES": 2}),
        pytest.raises(OperationalError, match="database is down"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        enqueue_batch([EventInput(who=user, flow="wizard", step="signup")])
    assert Event.objects.count() == 0


def test_backoff_doubles_up_to_the_maximum():
    with override_settings(
        ONBOARDING={"INGEST_RETRY_BACKOFF_SECONDS": 2, "INGEST_RETRY_BACKOFF_MAX_SECONDS": 30}
    ):
        assert [retry_countdown(n) for n in range(6)] == [2, 4, 8, 16, 30, 30]


@override_settings(ONBOARDING=ASYNC)
def test_api_answers_202_with_the_batch_id_and_reports_invalid_events(
    api, user, django_capture_on_commit_callbacks
):
    events = [event(), event(step="profile"), event(step="nope"), event(kind="Bad Kind")]

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(URL, json.dumps({"events": events}), content_type="application/json")

    assert response.status_code == 202
    body = response.json()
    assert uuid.UUID(body["batch"])
    assert body["queued"] == 2
    assert [(row["index"], row["field"]) for row in body["errors"]] == [(2, "step"), (3, "kind")]
    assert sorted(str(pk) for pk in Event.objects.values_list("id", flat=True)) == sorted(
        [events[0]["id"], events[1]["id"]]
    )
    assert Progress.objects.get().subject_id == str(user.pk)


@override_settings(ONBOARDING=ASYNC)
def test_api_answers_400_when_no_event_is_valid_and_publishes_nothing(
    api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(
            URL, json.dumps({"events": [event(flow="nope")]}), content_type="application/json"
        )

    assert response.status_code == 400
    assert response.json()["queued"] == 0
    assert callbacks == []


@override_settings(ONBOARDING=ASYNC)
def test_api_resent_batch_is_accepted_again_and_stored_once(
    api, django_capture_on_commit_callbacks
):
    events = [event(), event(step="profile")]
    body = json.dumps({"events": events})

    with django_capture_on_commit_callbacks(execute=True):
        first = api.post(URL, body, content_type="application/json")
        second = api.post(URL, body, content_type="application/json")

    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["batch"] != second.json()["batch"]
    assert Event.objects.count() == 2


@pytest.mark.django_db(transaction=True)
@override_settings(ONBOARDING=ASYNC)
def test_api_does_not_answer_2xx_when_the_batch_cannot_be_published(api, monkeypatch):
    from onboarding.ingest import publish

    def broker_down(batch_id, packed):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(publish, "_publish", broker_down)
    api.raise_request_exception = False  # autocommit: the publish runs inside the request

    response = api.post(URL, json.dumps({"events": [event()]}), content_type="application/json")

    assert response.status_code == 500
    assert Event.objects.count() == 0
