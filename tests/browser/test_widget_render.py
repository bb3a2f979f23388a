"""The first state comes from the server (no flash, no request); the script renders the same."""

from __future__ import annotations

import pytest

from onboarding.tracking import complete
from tests.browser.helpers import BAR, SUMMARY, WIDGET, open_widget

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_first_state_is_in_the_html_and_costs_no_api_request(signed_in, live_server, user):
    complete(user, "wizard", "signup")
    page = signed_in(user)
    api_calls = []
    page.on("request", lambda r: "/onboarding/api/" in r.url and api_calls.append(r.url))

    open_widget(page, live_server)
    page.wait_for_load_state("networkidle")

    bar = page.locator(BAR)
    assert bar.get_attribute("aria-valuenow") == "1"
    assert bar.get_attribute("aria-valuemax") == "4"
    assert bar.get_attribute("aria-valuetext") == "1 of 4 steps"
    assert page.locator(SUMMARY).inner_text() == "1 of 4 done, about 110 seconds left"
    assert api_calls == []


def test_the_shadow_root_is_painted_before_the_script_runs(signed_in, live_server, user):
    page = signed_in(user)
    page.route("**/widget.js", lambda route: route.abort())  # the script never arrives

    page.goto(f"{live_server.url}/widget/")

    assert page.evaluate(f"customElements.get('{WIDGET}')") is None
    assert page.locator(SUMMARY).inner_text() == "0 of 4 done, about 140 seconds left"
    assert page.locator(f"{WIDGET} a[part=link]").first.get_attribute("href") == "/profile/"


@pytest.mark.parametrize("mode", ["full", "compact"])
def test_the_script_renders_the_markup_the_server_rendered(signed_in, live_server, user, mode):
    complete(user, "wizard", "signup")
    complete(user, "wizard", "invite")
    page = signed_in(user)
    open_widget(page, live_server, f"?mode={mode}")

    server, script = page.evaluate(
        """() => {
          const served = document.querySelector('onboarding-progress');
          const copy = document.createElement('onboarding-progress');
          for (const a of served.attributes) copy.setAttribute(a.name, a.value);
          copy.append(served.querySelector('script[type="application/json"]').cloneNode(true));
          document.body.append(copy);
          const html = (el) => el.shadowRoot.querySelector('section').outerHTML;
          return [html(served), html(copy)];
        }"""
    )

    assert server == script
    assert ("<ol" in server) is (mode == "full")


def test_compact_mode_is_the_bar_and_the_summary(signed_in, live_server, user):
    page = signed_in(user)
    open_widget(page, live_server, "?mode=compact")

    assert page.locator(BAR).is_visible()
    assert page.locator(SUMMARY).is_visible()
    assert page.locator(f"{WIDGET} li").count() == 0
    # The title still names the bar for assistive technology, off screen.
    assert page.locator(BAR).get_attribute("aria-labelledby") == "t"


def test_an_element_written_by_hand_fetches_its_state_and_renders_in_english(
    signed_in, live_server, user
):
    """Without the tag's JSON child the script asks the API for the state and words it
    with its English texts: the same markup the server rendered."""
    complete(user, "wizard", "signup")
    page = signed_in(user)
    open_widget(page, live_server)

    served = page.evaluate(
        """() => {
          const served = document.querySelector('onboarding-progress');
          const bare = document.createElement('onboarding-progress');
          bare.id = 'bare';
          for (const a of served.attributes) bare.setAttribute(a.name, a.value);
          document.body.append(bare);
          return served.shadowRoot.querySelector('section').outerHTML;
        }"""
    )
    page.wait_for_function(
        "() => document.querySelector('#bare').shadowRoot?.querySelector('[part=summary]')"
    )

    html = page.evaluate(
        "document.querySelector('#bare').shadowRoot.querySelector('section').outerHTML"
    )
    assert html == served
    summary = "#bare >> css=[part=summary]"
    assert page.locator(summary).inner_text() == "1 of 4 done, about 110 seconds left"
