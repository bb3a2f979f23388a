"""POST events/: idempotent batches, per-event errors, limits, and no 500 on any input."""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from onboarding.api.errors import PayloadTooLarge
from onboarding.api.limits import BoundedJSONParser
from onboarding.models import Event, Progress
from onboarding.progress import get_progress
from tests.factories import MembershipFactory, TeamFactory

URL = "/onboarding/api/events/"


@pytest.fixture(autouse=True)
def _clear_throttles():
    cache.clear()


@pytest.fixture
def client(user):
    client = APIClient()
    client.force_login(user)
    return client


def event(**fields):
    return {
        "id": str(uuid.uuid4()),
        "flow": "wizard",
        "step": "signup",
        "kind": "completed",
    } | fields


def raw_event(fragment):
    """A batch of one ``viewed`` event with ``fragment`` (raw JSON members) added."""
    start = '{"events": [{"id": "' + str(uuid.uuid4()) + '", "flow": "wizard", "kind": "viewed"'
    return start + (", " + fragment if fragment else "") + "}]}"


def post(client, events=None, body=None, **extra):
    payload = json.dumps({"events": events}) if body is None else body
    return client.post(URL, payload, content_type="application/json", **extra)


def test_route_name():
    assert reverse("onboarding:api:events") == URL


def test_batch_is_stored_and_moves_progress(client, user):
    response = post(client, [event(step="signup"), event(step="profile")])

    assert response.status_code == 200
    assert response.json() == {"accepted": 2, "duplicates": 0, "errors": []}
    assert Event.objects.filter(source="api").count() == 2
    assert get_progress(user, "wizard").done == 2


def test_resent_ids_are_duplicates_never_stored_twice(client):
    batch = [event(step="signup"), event(step="profile")]
    post(client, batch)

    again = post(client, [*batch, event(step="project")])

    assert again.json() == {"accepted": 1, "duplicates": 2, "errors": []}
    assert Event.objects.count() == 3


def test_an_id_repeated_within_a_batch_is_stored_once(client):
    one = event()

    response = post(client, [one, one])

    assert response.json()["accepted"] == 1
    assert response.json()["duplicates"] == 1
    assert Event.objects.count() == 1


def test_valid_events_are_stored_and_invalid_ones_reported_by_index(client):
    response = post(
        client,
        [event(step="signup"), event(step="nope"), event(kind="Bad Kind"), event(step="profile")],
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicates"]) == (2, 0)
    assert [(error["index"], error["field"]) for error in body["errors"]] == [
        (1, "step"),
        (2, "kind"),
    ]
    assert "'nope'" in body["errors"][0]["message"]
    assert "'Bad Kind'" in body["errors"][1]["message"]
    assert sorted(Event.objects.values_list("step_key", flat=True)) == ["profile", "signup"]


def test_a_batch_with_no_valid_event_is_400(client):
    response = post(client, [event(flow="nope"), event(id="not-a-uuid")])

    assert response.status_code == 400
    body = response.json()
    assert body["accepted"] == 0
    assert [(error["index"], error["field"]) for error in body["errors"]] == [
        (0, "flow"),
        (1, "id"),
    ]
    assert "'nope'" in body["errors"][0]["message"]
    assert not Event.objects.exists()


def test_a_step_outcome_needs_a_step(client):
    response = post(client, [event(step="")])

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "step"


def test_custom_kinds_and_views_are_accepted(client, user):
    response = post(client, [event(step="", kind="project_created"), event(kind="viewed")])

    assert response.json()["accepted"] == 2
    assert get_progress(user, "wizard").steps[2].done  # completed_by="project_created"


@pytest.mark.parametrize(
    "name", ["user", "subject", "variant", "version", "received_at", "actor", "source"]
)
def test_only_documented_fields_are_writable(client, name):
    response = post(client, [event(**{name: "x"})])

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["index"], error["field"]) == (0, name)
    assert "Writable fields: id, flow, step, kind, occurred_at, properties." in error["message"]
    assert not Event.objects.exists()


def test_occurred_at_far_in_the_future_is_clamped_to_receipt(client):
    future = timezone.now() + timedelta(days=30)
    past = timezone.now() - timedelta(days=3)

    post(client, [event(step="signup", occurred_at=future.isoformat())])
    post(client, [event(step="profile", occurred_at=past.isoformat())])

    stored = {row.step_key: row for row in Event.objects.all()}
    assert stored["signup"].occurred_at == stored["signup"].received_at
    assert stored["profile"].occurred_at == past


def test_properties_over_the_core_limit_are_reported(client):
    with override_settings(ONBOARDING={"MAX_PROPERTIES_BYTES": 100}):
        response = post(client, [event(properties={"text": "x" * 200})])

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["field"] == "properties"
    assert "over the limit of 100" in error["message"]


def test_too_many_events_is_413_naming_the_limit(client):
    with override_settings(ONBOARDING={"API_MAX_BATCH_EVENTS": 3}):
        response = post(client, [event() for _ in range(4)])

    assert response.status_code == 413
    assert "API_MAX_BATCH_EVENTS" in response.json()["detail"]
    assert not Event.objects.exists()


def test_default_limit_is_100_events(client):
    assert post(client, [event() for _ in range(100)]).json()["accepted"] == 100
    assert post(client, [event() for _ in range(101)]).status_code == 413


def test_one_event_over_32_kb_is_413_naming_the_limit(client):
    big = event(properties={"text": "x" * (33 * 1024)})

    response = post(client, [event(), big])

    assert response.status_code == 413
    assert "Event 1" in response.json()["detail"]
    assert "API_MAX_EVENT_BYTES" in response.json()["detail"]
    assert not Event.objects.exists()


def test_a_body_over_the_batch_limit_is_refused_before_parsing(client):
    # Not even JSON: a 400 would mean it had been parsed.
    body = "[" * (501 * 1024)

    response = client.post(URL, body, content_type="application/json")

    assert response.status_code == 413
    assert "API_MAX_BATCH_BYTES" in response.json()["detail"]


def test_a_lying_or_missing_content_length_is_cut_off_by_a_bounded_read(settings):
    class CountingStream(io.BytesIO):
        read_sizes: list[int] = []

        def read(self, size=-1):
            self.read_sizes.append(size)
            return super().read(size)

    stream = CountingStream(b" " * (600 * 1024))
    with pytest.raises(PayloadTooLarge):
        BoundedJSONParser().parse(stream)
    assert stream.read_sizes == [500 * 1024 + 1]


@pytest.mark.parametrize(
    "body",
    [
        "{",
        "not json",
        "[]",
        "null",
        '"text"',
        '{"events": {}}',
        '{"events": "x"}',
        '{"events": [], "extra": 1}',
        '{"events": [1, "x", null, []]}',
        '{"events": [{"id": 1, "flow": [], "step": {}, "kind": 2}]}',
        raw_event('"occurred_at": 5'),
        raw_event('"properties": [1]'),
        raw_event('"occurred_at": "0001-01-01T00:00:00+14:00"'),
        raw_event('"occurred_at": "99999-01-01"'),
        raw_event('"properties": {"n": 1e999}'),
        raw_event('"properties": {"n": NaN}'),
        raw_event('"properties": {"t": "a\\u0000b"}'),
        raw_event('"properties": {"\\ud800": "\\udfff"}'),
        '{"events": [{"id": "' + str(uuid.uuid4()) + '", "flow": "\\ud800", "step": "\\u0000"}]}',
        '{"events": [{"\\ud800": 1}]}',
        raw_event('"properties": ' + '{"a":' * 50 + "1" + "}" * 50),
        '{"events": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "\xff\xfe",
    ],
)
def test_malformed_input_is_a_4xx_never_a_500(client, body):
    response = client.post(
        URL, body.encode("utf-8", "surrogatepass"), content_type="application/json"
    )

    assert response.status_code in {400, 413}, response.content
    json.loads(response.content)  # still a JSON answer
    assert not Event.objects.exists()


def test_huge_integers_are_stored_or_refused_cleanly(client):
    response = post(client, [event(kind="viewed", properties={"n": 10**300})])

    assert response.status_code == 200
    assert Event.objects.get().properties["n"] == 10**300


def test_unicode_text_is_stored_as_sent(client):
    response = post(client, [event(kind="viewed", properties={"note": "Grüße 🎉 日本"})])

    assert response.status_code == 200
    assert Event.objects.get().properties == {"note": "Grüße 🎉 日本"}


def test_other_content_types_are_415(client):
    response = client.post(URL, "events=1", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
event_like = st.fixed_dictionaries(
    {},
    optional={
        "id": st.uuids().map(str) | json_values,
        "flow": st.sampled_from(["wizard", "checklist", ""]) | st.text(max_size=5),
        "step": st.sampled_from(["signup", "a", ""]) | json_values,
        "kind": st.sampled_from(["completed", "viewed", "skipped"]) | st.text(max_size=5),
        "occurred_at": st.datetimes().map(lambda d: d.isoformat()) | json_values,
        "properties": json_values,
        "variant": json_values,
    },
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=st.lists(event_like | json_values, max_size=4))
def test_any_json_batch_gets_a_clean_answer(client, events):
    cache.clear()  # the examples share one subject's throttle budget
    response = post(client, events)

    assert response.status_code in {200, 400}, response.content
    body = response.json()
    if response.status_code == 400:
        assert body["accepted"] + body["duplicates"] == 0
        assert body["errors"]
    assert all(0 <= error["index"] < len(events) for error in body["errors"])


def test_a_user_cannot_send_events_for_another(client, user, other_user):
    post(client, [event(step="signup")])

    assert get_progress(other_user, "wizard").done == 0
    assert Progress.objects.get().subject_id == str(user.pk)


@override_settings(ONBOARDING={"SUBJECT_RESOLVER": "tests.test_api_progress.team_of"})
def test_a_team_members_events_count_for_the_team(db):
    team = TeamFactory()
    alice, bob = MembershipFactory(team=team).user, MembershipFactory(team=team).user
    for member, step in ((alice, "signup"), (bob, "profile")):
        client = APIClient()
        client.force_login(member)
        assert post(client, [event(step=step)]).status_code == 200

    assert get_progress(alice, "wizard").done == 2
    assert Progress.objects.get().subject_id == str(team.pk)


def test_anonymous_is_401(db):
    assert post(APIClient(), [event()]).status_code == 401
