"""The step-action view: the checklist's buttons work with JavaScript off."""

import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from onboarding.models import Event, StepState
from tests.testapp.models import Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(user):
    """A logged-in client that enforces CSRF like a real browser session."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def action_url(flow: str = "wizard", step: str = "project", action: str = "default") -> str:
    return reverse("onboarding:step-action", args=[flow, step, action])


def token_from_page(client: Client) -> str:
    """Read the CSRF token from the rendered checklist, as a form post would send it."""
    html = client.get("/page/").content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="(\w+)"', html).group(1)


def post(client: Client, url: str, **data):
    return client.post(url, {"csrfmiddlewaretoken": token_from_page(client), **data})


def outcome(user, step: str) -> str:
    return StepState.objects.get(progress__subject_id=str(user.pk), step_key=step).outcome


class TestActions:
    def test_default_applies_it_and_goes_back(self, browser, user):
        response = post(browser, action_url(), next="/page/?tab=setup")

        assert response.status_code == 302
        assert response["Location"] == "/page/?tab=setup"
        assert list(Project.objects.values_list("owner", "name")) == [(user.pk, "Sample project")]
        event = Event.objects.get()
        assert (event.kind, event.step_key, event.source, event.actor) == (
            "defaulted",
            "project",
            "web",
            user,
        )
        assert outcome(user, "project") == "defaulted"

    @pytest.mark.parametrize(
        ("action", "expected"),
        [("complete", "completed"), ("skip", "skipped"), ("dismiss", "dismissed")],
    )
    def test_other_actions(self, browser, user, action, expected):
        response = post(browser, action_url(step="invite", action=action), next="/page/")

        assert (response.status_code, response["Location"]) == (302, "/page/")
        assert outcome(user, "invite") == expected

    def test_the_rendered_form_posts_back(self, browser, user):
        html = browser.get("/page/").content.decode()
        form = re.search(
            r'<form[^>]*action="([^"]+)"[^>]*class="onboarding-default".*?</form>', html, re.S
        )
        fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form.group(0)))

        response = browser.post(form.group(1), fields)

        assert (response.status_code, response["Location"]) == (302, "/page/")
        assert outcome(user, "project") == "defaulted"
        assert "onboarding-default" not in browser.get("/page/").content.decode()

    def test_without_next_goes_back_to_the_referer(self, browser):
        token = token_from_page(browser)

        response = browser.post(
            action_url(), {"csrfmiddlewaretoken": token}, HTTP_REFERER="http://testserver/page/"
        )

        assert response["Location"] == "http://testserver/page/"

    @pytest.mark.parametrize(
        "unsafe",
        ["https://evil.example/", "//evil.example/page/", "javascript:alert(1)", ""],
    )
    def test_an_unsafe_next_is_refused(self, browser, unsafe):
        response = post(browser, action_url(), next=unsafe)

        assert (response.status_code, response["Location"]) == (302, "/")
        assert Event.objects.count() == 1  # the action itself still happened

    def test_a_step_without_default_says_so(self, browser):
        response = post(browser, action_url(step="signup"), next="/page/")

        assert (response.status_code, response["Location"]) == (302, "/page/")
        messages = [str(message) for message in get_messages(response.wsgi_request)]
        assert messages == ["Step 'signup' of flow 'wizard' has no smart default."]
        assert Event.objects.count() == 0

    def test_a_user_the_resolver_maps_to_nothing_gets_400(self, browser, settings):
        token = token_from_page(browser)
        settings.ONBOARDING = {"SUBJECT_RESOLVER": "tests.test_subjects.team_of"}

        response = browser.post(action_url(), {"csrfmiddlewaretoken": token})

        assert response.status_code == 400
        assert Event.objects.count() == 0
        assert Project.objects.count() == 0


class TestRefused:
    def test_csrf_is_enforced(self, browser):
        response = browser.post(action_url(), {"next": "/page/"})

        assert response.status_code == 403
        assert (Event.objects.count(), Project.objects.count()) == (0, 0)

    def test_login_is_required(self):
        client = Client()

        response = client.post(action_url())

        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
        assert Event.objects.count() == 0

    def test_only_post(self, browser):
        assert browser.get(action_url()).status_code == 405
        assert Event.objects.count() == 0

    @pytest.mark.parametrize(
        ("flow", "step", "action"),
        [
            ("nope", "project", "default"),
            ("wizard", "nope", "default"),
            ("wizard", "project", "explode"),
        ],
    )
    def test_unknown_flow_step_or_action_is_404(self, browser, flow, step, action):
        response = post(browser, action_url(flow, step, action))

        assert response.status_code == 404
        assert (Event.objects.count(), Project.objects.count()) == (0, 0)
