"""Events wait in localStorage until the API acknowledges them; re-sending never counts twice."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from onboarding.models import Event
from onboarding.progress import get_progress
from tests.browser.helpers import (
    BAR,
    STATUS,
    eventually,
    open_widget,
    queued,
    wait_until_flushed,
)
from tests.testapp.models import Project

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDGET_JS = "document.querySelector('onboarding-progress')"


def test_offline_then_online_the_queue_flushes_and_each_event_is_stored_once(
    signed_in, live_server, user
):
    page = signed_in(user)
    open_widget(page, live_server)
    page.context.set_offline(True)

    page.get_by_role("button", name="Use a sample project").click()
    page.evaluate(f"{WIDGET_JS}.track('signup')")
    page.get_by_role("button", name="Skip: Invite a colleague").click()

    waiting = queued(page)
    assert [(e["step"], e["kind"]) for e in waiting] == [
        ("project", "defaulted"),
        ("signup", "completed"),
        ("invite", "skipped"),
    ]
    assert page.locator(BAR).get_attribute("aria-valuenow") == "2"  # shown at once
    expect(page.locator(STATUS)).to_contain_text("back online")
    assert Event.objects.count() == 0

    page.context.set_offline(False)
    wait_until_flushed(page)

    stored = eventually(lambda: Event.objects.count() == 3 and Event.objects.all())
    assert {str(event.id) for event in stored} == {e["id"] for e in waiting}
    expect(page.locator(STATUS)).to_have_text("")
    assert get_progress(user, "wizard").done == 2

    # A retry of everything (say, the answer was lost): duplicates, nothing counted twice.
    page.evaluate(
        f"""(events) => {{
          const w = {WIDGET_JS};
          localStorage.setItem(w.key, JSON.stringify(events));
          return w.flush();
        }}""",
        waiting,
    )
    wait_until_flushed(page)
    assert Event.objects.count() == 3
    assert Project.objects.filter(owner=user).count() == 1
    assert get_progress(user, "wizard").done == 2


def test_an_event_queued_in_a_closed_tab_is_sent_by_the_next_page(signed_in, live_server, user):
    page = signed_in(user)
    open_widget(page, live_server)
    page.context.set_offline(True)
    page.evaluate(f"{WIDGET_JS}.track('signup')")
    (event,) = queued(page)
    page.close()
    assert Event.objects.count() == 0

    page = page.context.new_page()
    page.context.set_offline(False)
    open_widget(page, live_server)
    wait_until_flushed(page)

    assert eventually(lambda: Event.objects.filter(pk=event["id"]).exists())
    assert page.locator(BAR).get_attribute("aria-valuenow") == "1"
