"""GET flows/, GET flows/{flow}/progress/ and the step actions."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse
from django.utils.functional import lazy
from django.utils.translation import get_language
from rest_framework.test import APIClient

from onboarding import Flow, Step, complete
from onboarding.models import Event
from onboarding.registry import registry
from tests.factories import MembershipFactory, TeamFactory, UserFactory

TEAM_RESOLVER = {"SUBJECT_RESOLVER": "tests.test_api_progress.team_of"}


def team_of(user):
    membership = getattr(user, "membership", None)
    return membership.team if membership else None


@pytest.fixture(autouse=True)
def _clear_throttles():
    cache.clear()


@pytest.fixture
def client_for():
    def make(user):
        client = APIClient(enforce_csrf_checks=True)
        client.force_login(user)
        return client

    return make


CSRF_SECRET = "csrf" * 8  # any 32 letters or digits: the cookie a page would have


def csrf_post(client, url, data=None):
    """A same-origin POST with the CSRF cookie and header, as a page's script sends it."""
    client.cookies["csrftoken"] = CSRF_SECRET
    return client.post(url, data or {}, format="json", HTTP_X_CSRFTOKEN=CSRF_SECRET)


def progress_url(flow="wizard"):
    return reverse("onboarding:api:progress", args=[flow])


def action_url(action, step, flow="wizard"):
    return reverse(f"onboarding:api:step-{action}", args=[flow, step])


def test_progress_of_a_new_user_lists_every_step_to_do(user, client_for):
    response = client_for(user).get(progress_url())

    assert response.status_code == 200
    body = response.json()
    assert [step["key"] for step in body["steps"]] == [
        "signup",
        "profile",
        "project",
        "invite",
        "publish",
    ]
    assert {step["status"] for step in body["steps"]} == {"todo"}
    assert (body["done"], body["total"], body["percent"]) == (0, 4, 0)
    assert body["seconds_left"] == 30 + 40 + 60 + 10
    assert body["next_step"] == "signup"
    assert body["finished_at"] is None
    assert body["version"] is None
    assert body["variant"] in {"shown", "hidden"}
    project = body["steps"][2]
    assert project["url"] == "/projects/new/"
    assert project["has_default"] is True
    assert project["default_label"] == "Use a sample project"
    assert body["steps"][3]["optional"] is True


def test_progress_reflects_tracked_steps(user, client_for):
    complete(user, "wizard", "signup")
    complete(user, "wizard", "profile")

    body = client_for(user).get(progress_url()).json()

    assert (body["done"], body["total"], body["percent"]) == (2, 4, 50)
    assert body["seconds_left"] == 70
    assert body["next_step"] == "project"
    assert body["version"] == 1
    assert body["steps"][0]["status"] == "done"
    assert body["steps"][0]["outcome"] == "completed"
    assert body["steps"][0]["completed_at"] is not None


def test_flow_list_gives_each_flow_with_its_progress(user, client_for):
    complete(user, "checklist", "b")

    response = client_for(user).get(reverse("onboarding:api:flow-list"))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == len(registry.all())
    by_key = {item["flow"]: item for item in body["results"]}
    assert set(by_key) == {flow.key for flow in registry.all()} >= {"checklist", "wizard"}
    assert (by_key["checklist"]["done"], by_key["checklist"]["total"]) == (1, 3)
    assert by_key["wizard"]["done"] == 0


def test_flow_list_page_size_is_capped(user, client_for):
    with override_settings(ONBOARDING={"API_MAX_PAGE_SIZE": 1}):
        response = client_for(user).get(reverse("onboarding:api:flow-list"), {"page_size": 500})

    body = response.json()
    assert body["count"] == len(registry.all()) > 1
    assert len(body["results"]) == 1
    assert body["next"] is not None


def test_flow_list_uses_a_constant_number_of_queries(
    user, client_for, django_assert_max_num_queries
):
    client = client_for(user)
    complete(user, "wizard", "signup")
    complete(user, "checklist", "a")
    client.get(reverse("onboarding:api:flow-list"))  # warm the content type cache
    # session + user, then progress rows and their step states.
    with django_assert_max_num_queries(4):
        assert client.get(reverse("onboarding:api:flow-list")).status_code == 200


def test_progress_uses_a_constant_number_of_queries(user, client_for, django_assert_num_queries):
    client = client_for(user)
    client.get(progress_url())  # warm the content type cache
    # session, user, then the progress row and version LEFT JOINed to its step states:
    # the same with no progress yet, some steps done, or the flow finished.
    for steps in ([], ["signup"], ["profile", "project", "publish"]):
        for step in steps:
            complete(user, "wizard", step)
        with django_assert_num_queries(3):
            body = client.get(progress_url()).json()
        assert body["done"] == {0: 0, 1: 1, 3: 4}[len(steps)]


def test_titles_follow_the_request_language(user, client_for, declare):
    def hello():
        return {"fr": "Bonjour", "de": "Hallo"}.get(get_language(), "Hello")

    lazy_hello = lazy(hello, str)
    declare(Flow(key="greet", title=lazy_hello(), steps=[Step("wave", lazy_hello())]))
    client = client_for(user)

    french = client.get(progress_url("greet"), HTTP_ACCEPT_LANGUAGE="fr")
    english = client.get(progress_url("greet"), HTTP_ACCEPT_LANGUAGE="en")

    assert (french.json()["title"], french.json()["steps"][0]["title"]) == ("Bonjour", "Bonjour")
    assert french["Content-Language"] == "fr"
    assert english.json()["title"] == "Hello"


def test_unknown_flow_is_404_naming_it(user, client_for):
    response = client_for(user).get(progress_url("nope"))

    assert response.status_code == 404
    assert "'nope'" in response.json()["detail"]


@pytest.mark.parametrize(
    ("action", "status", "outcome"),
    [
        ("complete", "done", "completed"),
        ("default", "done", "defaulted"),
        ("skip", "skipped", "skipped"),
        ("dismiss", "dismissed", "dismissed"),
    ],
)
def test_step_action_returns_the_new_progress(user, client_for, action, status, outcome):
    response = csrf_post(client_for(user), action_url(action, "project"))

    assert response.status_code == 200
    step = next(step for step in response.json()["steps"] if step["key"] == "project")
    assert (step["status"], step["outcome"]) == (status, outcome)
    event = Event.objects.get()
    assert (event.kind, event.step_key, event.source) == (outcome, "project", "api")
    assert event.actor == user


def test_default_applies_the_smart_default(user, client_for):
    from tests.testapp.models import Project

    csrf_post(client_for(user), action_url("default", "project"))

    assert list(Project.objects.filter(owner=user).values_list("name", flat=True)) == [
        "Sample project"
    ]


def test_default_on_a_step_without_one_is_400(user, client_for):
    response = csrf_post(client_for(user), action_url("default", "signup"))

    assert response.status_code == 400
    assert "no smart default" in response.json()["step"][0]
    assert not Event.objects.exists()


def test_unknown_step_in_the_route_is_400_naming_it(user, client_for):
    response = csrf_post(client_for(user), action_url("complete", "nope"))

    assert response.status_code == 400
    assert "'nope'" in response.json()["step"][0]


def test_unknown_flow_in_a_step_route_is_404(user, client_for):
    response = csrf_post(client_for(user), action_url("complete", "signup", flow="nope"))

    assert response.status_code == 404


def test_step_action_with_the_same_id_is_stored_once(user, client_for):
    client = client_for(user)
    event_id = str(uuid.uuid4())

    for _attempt in range(2):
        response = csrf_post(client, action_url("complete", "signup"), {"id": event_id})
        assert response.status_code == 200

    assert Event.objects.count() == 1


def test_step_action_refuses_other_fields(user, client_for):
    response = csrf_post(client_for(user), action_url("complete", "signup"), {"user": 1})

    assert response.status_code == 400
    assert "user" in response.json()
    assert not Event.objects.exists()


def test_unsafe_methods_need_the_csrf_token(user, client_for):
    response = client_for(user).post(action_url("complete", "signup"), {}, format="json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Event.objects.exists()


def test_anonymous_requests_are_401(db):
    client = APIClient()

    assert client.get(progress_url()).status_code == 401
    assert client.post(action_url("complete", "signup")).status_code == 401
    assert client.get(reverse("onboarding:api:flow-list")).status_code == 401


def test_a_user_never_sees_nor_changes_another_users_progress(user, other_user, client_for):
    csrf_post(client_for(user), action_url("complete", "signup"))
    csrf_post(client_for(user), action_url("complete", "profile"))

    other = client_for(other_user)
    assert other.get(progress_url()).json()["done"] == 0
    listed = other.get(reverse("onboarding:api:flow-list")).json()["results"]
    assert all(item["done"] == 0 for item in listed)
    csrf_post(other, action_url("skip", "signup"))
    mine = client_for(user).get(progress_url()).json()
    assert mine["done"] == 2
    assert mine["steps"][0]["status"] == "done"


@override_settings(ONBOARDING=TEAM_RESOLVER)
def test_team_members_share_their_teams_progress(db, client_for):
    team, other_team = TeamFactory(), TeamFactory()
    alice = MembershipFactory(team=team).user
    bob = MembershipFactory(team=team).user
    carol = MembershipFactory(team=other_team).user

    csrf_post(client_for(alice), action_url("complete", "signup"))
    csrf_post(client_for(bob), action_url("complete", "profile"))

    assert client_for(alice).get(progress_url()).json()["done"] == 2
    assert client_for(bob).get(progress_url()).json()["done"] == 2
    assert client_for(carol).get(progress_url()).json()["done"] == 0
    assert set(Event.objects.values_list("actor__username", flat=True)) == {
        alice.username,
        bob.username,
    }


@override_settings(ONBOARDING=TEAM_RESOLVER)
def test_a_user_without_a_subject_gets_400(db, client_for):
    response = client_for(UserFactory()).get(progress_url())

    assert response.status_code == 400
    assert "subject" in response.json()


@pytest.mark.parametrize(
    "actions",
    [
        [],
        [("signup", "complete")],
        [("signup", "complete"), ("profile", "skip"), ("invite", "dismiss")],
        [
            ("signup", "complete"),
            ("profile", "complete"),
            ("project", "default"),
            ("publish", "complete"),
        ],
    ],
    ids=["new", "started", "skipped-and-dismissed", "finished"],
)
def test_the_fast_response_equals_the_documented_serializer(user, actions):
    from onboarding import accept_default, dismiss, skip
    from onboarding.api.serializers import FlowProgressSerializer, progress_data
    from onboarding.progress import get_progress

    do = {"complete": complete, "skip": skip, "dismiss": dismiss, "default": accept_default}
    for step, action in actions:
        do[action](user, "wizard", step)
    progress = get_progress(user, "wizard")

    assert progress_data(progress) == FlowProgressSerializer(progress).data
    assert progress_data(progress)["steps"] == FlowProgressSerializer(progress).data["steps"]
