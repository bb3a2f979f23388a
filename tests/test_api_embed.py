"""Signed embed tokens instead of cookies, and CORS for configured origins only."""

from __future__ import annotations

import time
import uuid

import pytest
from django.core.cache import cache
from django.template import engines
from django.test import RequestFactory, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from onboarding.api.embed import make_embed_token, read_embed_token
from onboarding.models import Event
from onboarding.progress import get_progress
from tests.factories import MembershipFactory, TeamFactory

PROGRESS = "/onboarding/api/flows/wizard/progress/"
ORIGIN = "https://widget.example.com"


@pytest.fixture(autouse=True)
def _clear_throttles():
    cache.clear()


def embed_client(token):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Embed {token}")
    return client


def action(step, name="complete"):
    return reverse(f"onboarding:api:step-{name}", args=["wizard", step])


def test_a_token_reads_and_changes_its_subjects_progress_without_cookies(user, other_user):
    client = embed_client(make_embed_token(user))

    response = client.post(action("signup"))  # no session, no CSRF token needed

    assert response.status_code == 200
    assert response.json()["done"] == 1
    assert client.get(PROGRESS).json()["done"] == 1
    assert get_progress(other_user, "wizard").done == 0
    assert Event.objects.get().actor == user


def test_a_token_sends_events_for_its_subject_only(user, other_user):
    client = embed_client(make_embed_token(user))
    one = {"id": str(uuid.uuid4()), "flow": "wizard", "step": "signup", "kind": "completed"}
    batch = {"events": [one]}

    assert client.post("/onboarding/api/events/", batch, format="json").status_code == 200
    batch["events"][0] |= {"subject": {"type": "auth.user", "id": str(other_user.pk)}}
    refused = client.post("/onboarding/api/events/", batch, format="json")

    assert refused.json()["errors"][0]["field"] == "subject"
    assert get_progress(user, "wizard").done == 1
    assert get_progress(other_user, "wizard").done == 0


def test_an_expired_token_is_401(user):
    token = make_embed_token(user, max_age=-1)

    response = embed_client(token).get(PROGRESS)

    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + "xx", lambda t: "x" + t, lambda t: "abc"])
def test_a_tampered_token_is_401(user, mangle):
    assert embed_client(mangle(make_embed_token(user))).get(PROGRESS).status_code == 401


def test_a_token_signed_for_another_purpose_is_refused(user):
    from django.core import signing

    forged = signing.dumps({"s": f"auth.user:{user.pk}", "u": user.pk, "e": time.time() + 60})

    assert read_embed_token(forged) is None


@override_settings(ONBOARDING={"SUBJECT_RESOLVER": "tests.test_api_progress.team_of"})
def test_a_team_token_stops_working_when_the_user_leaves_the_team(db):
    team, other_team = TeamFactory(), TeamFactory()
    membership = MembershipFactory(team=team)
    token = make_embed_token(membership.user)
    assert embed_client(token).get(PROGRESS).status_code == 200

    membership.team = other_team
    membership.save()

    assert embed_client(token).get(PROGRESS).status_code == 401


def test_a_token_for_a_subject_acts_without_a_user(db):
    team = TeamFactory()

    response = embed_client(make_embed_token(team)).post(action("signup"))

    assert response.status_code == 200
    assert get_progress(team, "wizard").done == 1
    assert Event.objects.get().actor is None


def test_the_template_tag_makes_a_token_for_the_signed_in_user(user):
    request = RequestFactory().get("/")
    request.user = user
    page = engines["django"].from_string(
        "{% load onboarding_embed %}{% onboarding_embed_token as token %}{{ token }}"
    )

    token = page.render({}, request)

    assert read_embed_token(token).user == user


def test_the_template_tag_gives_nothing_to_anonymous_users(db):
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    page = engines["django"].from_string(
        "{% load onboarding_embed %}[{% onboarding_embed_token %}]"
    )

    assert page.render({}, request) == "[]"


@override_settings(ONBOARDING={"API_CORS_ORIGINS": [ORIGIN]})
def test_cors_headers_for_a_configured_origin(user):
    client = embed_client(make_embed_token(user))

    response = client.get(PROGRESS, HTTP_ORIGIN=ORIGIN)
    preflight = APIClient().options(
        action("signup"),
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )

    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in response["Vary"]
    assert "Access-Control-Allow-Credentials" not in response
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in preflight["Access-Control-Allow-Methods"]
    assert "Authorization" in preflight["Access-Control-Allow-Headers"]


@override_settings(ONBOARDING={"API_CORS_ORIGINS": [ORIGIN]})
def test_no_cors_headers_for_other_origins(user):
    client = embed_client(make_embed_token(user))

    response = client.get(PROGRESS, HTTP_ORIGIN="https://evil.example.com")
    preflight = APIClient().options(
        action("signup"),
        HTTP_ORIGIN="https://evil.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )

    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Origin" not in preflight
    assert "Access-Control-Allow-Methods" not in preflight


def test_no_cors_by_default(user):
    response = embed_client(make_embed_token(user)).get(PROGRESS, HTTP_ORIGIN=ORIGIN)

    assert "Access-Control-Allow-Origin" not in response
