"""``{% onboarding_progress %}``: an accessible progress bar and checklist, server-rendered."""

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import Context, RequestContext, Template
from django.test import RequestFactory
from pytest_django.asserts import assertInHTML

from onboarding import Flow, Step, complete, skip
from onboarding.models import Progress

pytestmark = pytest.mark.django_db


def render(user, tag: str = '{% onboarding_progress "wizard" %}', path: str = "/dashboard/") -> str:
    request = RequestFactory().get(path)
    request.user = user
    return Template("{% load onboarding_tags %}" + tag).render(RequestContext(request))


def text(html: str) -> str:
    """The visible text with whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def progressbar(html: str) -> dict[str, str]:
    (tag,) = re.findall(r'<div[^>]*role="progressbar"[^>]*>', html)
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag))


class TestProgressBar:
    def test_fresh(self, user):
        html = render(user)

        bar = progressbar(html)
        assert (bar["aria-valuemin"], bar["aria-valuemax"], bar["aria-valuenow"]) == ("0", "4", "0")
        assert bar["aria-valuetext"] == "0 of 4 steps"
        assert "0 of 4 done, about 140 seconds left" in text(html)

    def test_partial(self, user):
        complete(user, "wizard", "signup")
        complete(user, "wizard", "profile")

        html = render(user)

        bar = progressbar(html)
        assert (bar["aria-valuenow"], bar["aria-valuemax"]) == ("2", "4")
        assert bar["aria-valuetext"] == "2 of 4 steps"
        assert 'style="width: 50%"' in html
        assert "2 of 4 done, about 70 seconds left" in text(html)

    def test_has_an_accessible_name(self, user):
        html = render(user)

        name_id = progressbar(html)["aria-labelledby"]
        assertInHTML(f'<h2 class="onboarding-title" id="{name_id}">Set up your account</h2>', html)

    def test_one_second_left_is_singular(self, user, declare):
        declare(Flow("tiny", "Tiny", steps=[Step("only", "Only", estimated_seconds=1)]))

        assert "0 of 1 done, about 1 second left" in text(
            render(user, '{% onboarding_progress "tiny" %}')
        )

    def test_finished(self, user):
        for step in ["signup", "profile", "project", "publish"]:
            complete(user, "wizard", step)

        html = render(user)

        assert "All done" in text(html)
        assert "onboarding-finished" in html
        assert progressbar(html)["aria-valuenow"] == "4"

    def test_hide_finished(self, user):
        for step in ["signup", "profile", "project", "publish"]:
            complete(user, "wizard", step)

        assert render(user, '{% onboarding_progress "wizard" hide_finished=True %}').strip() == ""
        assert render(user, '{% onboarding_progress "checklist" hide_finished=True %}').strip()

    def test_records_nothing(self, user):
        render(user)

        assert Progress.objects.count() == 0


class TestChecklist:
    def test_lists_every_step_with_links_to_do_it(self, user):
        html = render(user)

        assert re.findall(r'data-step="([\w-]+)"', html) == [
            "signup",
            "profile",
            "project",
            "invite",
            "publish",
        ]
        assertInHTML('<a href="/projects/new/">Create a project</a>', html)
        assertInHTML('<a href="/profile/">Fill in your profile</a>', html)
        assert "(optional)" in text(html)

    def test_marks_done_skipped_and_next(self, user):
        complete(user, "wizard", "signup")
        skip(user, "wizard", "profile")

        html = render(user)

        assert 'class="onboarding-step onboarding-step-done" data-step="signup"' in html
        assert 'class="onboarding-step onboarding-step-skipped" data-step="profile"' in html
        assert re.findall(r'data-step="(\w+)" aria-current="step"', html) == ["project"]
        assert "Done: Sign up" in text(html)
        assert "Skipped: Fill in your profile" in text(html)
        # A done step is no longer a link; a skipped one still is.
        assertInHTML("<span>Sign up</span>", html)
        assert '<a href="/profile/">' in html

    def test_offers_the_default_with_a_csrf_token(self, user):
        html = render(user, path="/dashboard/?tab=setup")

        (form,) = re.findall(r'<form[^>]*class="onboarding-default".*?</form>', html, re.S)
        assert 'action="/onboarding/actions/wizard/project/default/"' in form
        assert 'method="post"' in form
        assert re.search(r'name="csrfmiddlewaretoken" value="\w{32,}"', form)
        assertInHTML('<input type="hidden" name="next" value="/dashboard/?tab=setup">', form)
        assertInHTML('<button type="submit">Use a sample project</button>', form)

    def test_no_default_once_the_step_is_done(self, user):
        complete(user, "wizard", "project")

        assert "onboarding-default" not in render(user)

    def test_offers_to_skip_optional_steps(self, user):
        html = render(user)

        (form,) = re.findall(r'<form[^>]*class="onboarding-skip".*?</form>', html, re.S)
        assert 'action="/onboarding/actions/wizard/invite/skip/"' in form
        assert 'aria-label="Skip: Invite a colleague"' in form

    def test_compact_hides_the_checklist(self, user):
        html = render(user, '{% onboarding_progress "wizard" compact=True %}')

        assert 'role="progressbar"' in html
        assert "onboarding-checklist" not in html
        assert "<form" not in html


class TestNothingToShow:
    def test_anonymous_users_see_nothing(self):
        assert render(AnonymousUser()).strip() == ""

    def test_without_request_nothing(self):
        html = Template('{% load onboarding_tags %}{% onboarding_progress "wizard" %}').render(
            Context({})
        )

        assert html.strip() == ""

    def test_a_user_the_resolver_maps_to_nothing_sees_nothing(self, user, settings):
        settings.ONBOARDING = {"SUBJECT_RESOLVER": "tests.test_subjects.team_of"}

        assert render(user).strip() == ""


def test_get_onboarding_progress_for_custom_markup(user):
    complete(user, "wizard", "signup")

    html = render(
        user,
        '{% get_onboarding_progress "wizard" as p %}'
        "{{ p.done }}/{{ p.total }} {{ p.next_step.key }}",
    )

    assert html == "1/4 profile"


def test_renders_on_a_real_page(client, user):
    client.force_login(user)

    response = client.get("/page/")

    assert response.status_code == 200
    assert "0 of 4 done" in text(response.content.decode())
