"""Server-side API keys: hashed, scoped, revocable; events naming any subject."""

from __future__ import annotations

import io
import re
import uuid

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from onboarding.api.keys import create_key
from onboarding.api.models import ApiKey
from onboarding.models import Event
from onboarding.progress import get_progress
from tests.factories import MembershipFactory, TeamFactory, UserFactory

URL = "/onboarding/api/events/"


@pytest.fixture(autouse=True)
def _clear_throttles():
    cache.clear()


def key_client(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def event(subject=None, **fields):
    body = {"id": str(uuid.uuid4()), "flow": "wizard", "step": "signup", "kind": "completed"}
    if subject is not None:
        body["subject"] = subject
    return body | fields


def send(client, *events):
    return client.post(URL, {"events": list(events)}, format="json")


def user_subject(user):
    return {"type": "auth.user", "id": str(user.pk)}


def test_the_command_prints_a_key_once_and_stores_only_its_hash(db):
    out, err = io.StringIO(), io.StringIO()

    call_command("onboarding_apikey", "create", "crm", "--scope", "ingest", stdout=out, stderr=err)

    key = out.getvalue().strip()
    stored = ApiKey.objects.get()
    assert key.startswith(f"{stored.prefix}.")
    assert key not in (stored.hashed_key, stored.prefix)
    assert len(stored.hashed_key) == 64
    assert stored.scopes == {"ingest"}
    assert "only its hash is stored" in err.getvalue()


def test_the_command_lists_and_revokes(db):
    api_key, _key = create_key("crm", scopes=["ingest", "read"])
    out = io.StringIO()

    call_command("onboarding_apikey", "list", stdout=out)
    assert f"{api_key.prefix}\tactive\tingest,read\tcrm" in out.getvalue()

    call_command("onboarding_apikey", "revoke", api_key.prefix, stdout=io.StringIO())
    api_key.refresh_from_db()
    assert api_key.revoked
    with pytest.raises(CommandError, match=api_key.prefix):
        call_command("onboarding_apikey", "revoke", api_key.prefix)


def test_unknown_scopes_are_refused_naming_them(db):
    with pytest.raises(ValueError, match="write"):
        create_key("crm", scopes=["write"])


def test_a_key_sends_events_for_any_subject(user, other_user):
    _api_key, key = create_key("crm")
    team = TeamFactory()

    response = send(
        key_client(key),
        event(user_subject(user), step="signup"),
        event(user_subject(other_user), step="profile"),
        event({"type": "testapp.team", "id": str(team.pk)}, flow="checklist", step="a"),
    )

    assert response.status_code == 200
    assert response.json()["accepted"] == 3
    assert get_progress(user, "wizard").steps[0].done
    assert not get_progress(user, "wizard").steps[1].done
    assert get_progress(other_user, "wizard").steps[1].done
    assert get_progress(team, "checklist").done == 1
    assert set(Event.objects.values_list("source", flat=True)) == {"api"}


@override_settings(ONBOARDING={"SUBJECT_RESOLVER": "tests.test_api_progress.team_of"})
def test_a_key_naming_a_user_counts_for_the_users_team(db):
    member = MembershipFactory(team=TeamFactory()).user
    _api_key, key = create_key("crm")

    send(key_client(key), event(user_subject(member)))

    assert get_progress(member.membership.team, "wizard").done == 1


def test_a_key_event_must_name_a_known_subject(user):
    _api_key, key = create_key("crm")

    response = send(
        key_client(key),
        event(),
        event({"type": "nope.model", "id": "1"}),
        event({"type": "auth.user", "id": "999999"}),
        event({"type": "auth.user", "id": "not-a-number"}),
        event({"type": "auth.user"}),
    )

    assert response.status_code == 400
    assert [(error["index"], error["field"]) for error in response.json()["errors"]] == [
        (0, "subject"),
        (1, "subject.type"),
        (2, "subject.id"),
        (3, "subject.id"),
        (4, "subject.id"),
    ]
    assert "'nope.model'" in response.json()["errors"][1]["message"]
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    "header",
    ["Api-Key nope", "Api-Key abc.def", "Api-Key", "Api-Key a b"],
)
def test_a_wrong_key_is_401(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = send(client, event())

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"


def test_a_revoked_key_is_401(user):
    api_key, key = create_key("crm")
    api_key.revoked = True
    api_key.save()

    assert send(key_client(key), event(user_subject(user))).status_code == 401
    assert not Event.objects.exists()


def test_a_key_without_the_ingest_scope_is_403(user):
    _api_key, key = create_key("reporting", scopes=["read"])

    response = send(key_client(key), event(user_subject(user)))

    assert response.status_code == 403
    assert "ingest" in response.json()["detail"]


def test_a_key_cannot_use_the_my_progress_routes(db):
    _api_key, key = create_key("crm", scopes=["ingest", "read"])
    client = key_client(key)

    assert client.get(reverse("onboarding:api:progress", args=["wizard"])).status_code == 403
    assert client.get(reverse("onboarding:api:flow-list")).status_code == 403
    action = reverse("onboarding:api:step-complete", args=["wizard", "signup"])
    assert client.post(action).status_code == 403


def test_a_header_key_wins_over_a_session_and_needs_no_csrf(user, other_user):
    _api_key, key = create_key("crm")
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")

    response = send(client, event(user_subject(other_user)))

    assert response.status_code == 200
    assert get_progress(other_user, "wizard").done == 1


@override_settings(ONBOARDING={"API_THROTTLE_RATES": {"subject": None, "key": "2/minute"}})
def test_each_key_has_its_own_rate(user):
    _first, first_key = create_key("a")
    _second, second_key = create_key("b")
    codes = [send(key_client(first_key), event(user_subject(user))).status_code for _ in range(3)]

    assert codes == [200, 200, 429]
    assert send(key_client(second_key), event(user_subject(user))).status_code == 200


def test_admin_makes_a_key_and_shows_it_once(db):
    admin_user = UserFactory(is_staff=True, is_superuser=True)
    client = APIClient()
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:onboarding_apikey_add"),
        {"name": "warehouse", "can_ingest": "on"},
        follow=True,
    )

    assert response.status_code == 200
    stored = ApiKey.objects.get()
    shown = " ".join(str(message) for message in response.context["messages"])
    key = re.search(r"new API key is ([\w-]+\.[\w-]+)\. Copy it now", shown).group(1)
    assert key.startswith(f"{stored.prefix}.")
    assert stored.created_by == admin_user
    assert send(key_client(key), event(user_subject(admin_user))).status_code == 200


def test_a_batch_reads_the_subjects_it_names_in_one_query(db):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _api_key, key = create_key("crm")
    client = key_client(key)

    def queries_for(users):
        with CaptureQueriesContext(connection) as captured:
            response = send(client, *[event(user_subject(user)) for user in users])
        assert response.json()["accepted"] == len(users)
        return len(captured)

    queries_for(UserFactory.create_batch(1))  # first use: flow sync, content types
    two = queries_for(UserFactory.create_batch(2))
    twelve = queries_for(UserFactory.create_batch(12))

    assert twelve == two
