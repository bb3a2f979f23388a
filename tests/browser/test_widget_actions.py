"""Completing, accepting defaults, finishing and dismissing, seen in the page and on the server."""

from __future__ import annotations

import pytest

from onboarding.models import Event
from onboarding.progress import get_progress
from onboarding.tracking import complete
from tests.browser.helpers import BAR, SUMMARY, WIDGET, eventually, open_widget, wait_until_flushed
from tests.testapp.models import Project

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LISTEN = """() => {
  window.seen = [];
  for (const name of ['onboarding:step-completed', 'onboarding:finished'])
    document.addEventListener(name, (e) => window.seen.push(
      {type: e.type, detail: e.detail, bubbles: e.bubbles, composed: e.composed}));
}"""


def test_tracking_a_step_from_code_moves_the_bar_and_the_text(signed_in, live_server, user):
    complete(user, "wizard", "signup")
    page = signed_in(user)
    open_widget(page, live_server)
    page.evaluate(LISTEN)

    page.evaluate("document.querySelector('onboarding-progress').track('profile')")

    bar = page.locator(BAR)
    assert bar.get_attribute("aria-valuenow") == "2"
    assert bar.get_attribute("aria-valuetext") == "2 of 4 steps"
    assert page.locator(SUMMARY).inner_text() == "2 of 4 done, about 70 seconds left"
    wait_until_flushed(page)
    assert eventually(lambda: get_progress(user, "wizard").done == 2)
    assert Event.objects.filter(step_key="profile", kind="completed").count() == 1
    assert page.evaluate("window.seen") == [
        {
            "type": "onboarding:step-completed",
            "detail": {"flow": "wizard", "step": "profile", "outcome": "completed"},
            "bubbles": True,
            "composed": True,
        }
    ]


def test_the_module_export_tracks_through_the_flows_widget(signed_in, live_server, user):
    page = signed_in(user)
    open_widget(page, live_server)

    page.evaluate(
        """async () => {
          const {track} = await import(document.querySelector('script[type=module]').src);
          await track('wizard', 'signup');
        }"""
    )

    assert page.locator(BAR).get_attribute("aria-valuenow") == "1"
    assert eventually(lambda: get_progress(user, "wizard").done == 1)


def test_use_defaults_completes_the_step_with_the_defaulted_outcome(signed_in, live_server, user):
    page = signed_in(user)
    open_widget(page, live_server)
    page.evaluate(LISTEN)

    page.get_by_role("button", name="Use a sample project").click()

    assert page.locator(BAR).get_attribute("aria-valuenow") == "1"
    assert page.locator(f"{WIDGET} li[data-step=project]").get_attribute("class") == "done"
    assert page.get_by_role("button", name="Use a sample project").count() == 0
    wait_until_flushed(page)
    step = eventually(
        lambda: (
            next(s for s in get_progress(user, "wizard").steps if s.key == "project").done
            and next(s for s in get_progress(user, "wizard").steps if s.key == "project")
        )
    )
    assert step.outcome == "defaulted"
    assert Project.objects.filter(owner=user, name="Sample project").count() == 1
    assert page.evaluate("window.seen")[0]["detail"] == {
        "flow": "wizard",
        "step": "project",
        "outcome": "defaulted",
    }


def test_the_last_step_shows_the_finished_state_and_fires_finished(signed_in, live_server, user):
    for step in ("signup", "profile", "project"):
        complete(user, "wizard", step)
    page = signed_in(user)
    open_widget(page, live_server)
    page.evaluate(LISTEN)

    page.evaluate("document.querySelector('onboarding-progress').track('publish')")

    assert page.locator(SUMMARY).inner_text() == "All done. Welcome aboard!"
    assert page.locator(BAR).get_attribute("aria-valuenow") == "4"
    assert [event["type"] for event in page.evaluate("window.seen")] == [
        "onboarding:step-completed",
        "onboarding:finished",
    ]
    wait_until_flushed(page)
    assert eventually(lambda: get_progress(user, "wizard").finished)


def test_skip_marks_an_optional_step_skipped(signed_in, live_server, user):
    page = signed_in(user)
    open_widget(page, live_server)

    page.get_by_role("button", name="Skip: Invite a colleague").click()

    assert page.locator(f"{WIDGET} li[data-step=invite]").get_attribute("class") == "skipped"
    wait_until_flushed(page)
    assert eventually(lambda: Event.objects.filter(step_key="invite", kind="skipped").exists())


def test_dismiss_hides_the_widget_here_and_on_the_next_page(signed_in, live_server, user):
    page = signed_in(user)
    open_widget(page, live_server)

    page.get_by_role("button", name="Dismiss: Set up your account").click()

    assert page.locator(WIDGET).is_hidden()
    wait_until_flushed(page)
    assert eventually(lambda: Event.objects.filter(kind="widget_dismissed").count() == 1)
    page.reload()
    assert page.locator(WIDGET).count() == 0
