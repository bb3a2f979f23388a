"""Keyboard-only use, an axe-core scan and screenshots of the themes and languages."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from onboarding.tracking import complete
from tests.browser.helpers import BAR, SUMMARY, WIDGET, open_widget, wait_until_flushed
from tests.testapp.models import Project

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The focused element, looking inside shadow roots, with what a user sees of its focus.
FOCUSED = """() => {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  const style = getComputedStyle(el);
  return {
    name: el.getAttribute('aria-label') || el.textContent.trim(),
    outline: style.outlineStyle === 'none' ? 0 : parseFloat(style.outlineWidth),
  };
}"""


def tab_through(page, count):
    stops = []
    for _ in range(count):
        page.keyboard.press("Tab")
        stops.append(page.evaluate(FOCUSED))
    return stops


def test_keyboard_only_focus_order_visible_focus_enter_and_space(signed_in, live_server, user):
    complete(user, "wizard", "signup")
    page = signed_in(user)
    open_widget(page, live_server)
    page.locator("#before").focus()

    stops = tab_through(page, 6)

    assert [stop["name"] for stop in stops] == [
        "Dismiss: Set up your account",
        "Fill in your profile",
        "Create a project",
        "Use a sample project",
        "Skip: Invite a colleague",
        "After the widget",
    ]
    assert all(stop["outline"] >= 2 for stop in stops[:5]), stops

    page.keyboard.press("Shift+Tab")  # back to "Skip"
    page.keyboard.press("Space")
    expect(page.locator(f"{WIDGET} li[data-step=invite]")).to_have_class("skipped")
    page.locator("#before").focus()
    tab_through(page, 4)  # ... to "Use a sample project"
    page.keyboard.press("Enter")

    expect(page.locator(BAR)).to_have_attribute("aria-valuenow", "2")
    # The pressed button is gone with its step: focus moves on to the next step.
    assert page.evaluate(FOCUSED)["name"] == "Fill in your profile"
    wait_until_flushed(page)
    assert Project.objects.filter(owner=user).count() == 1


@pytest.mark.parametrize(
    ("scheme", "lang", "direction"),
    [
        ("light", "en", "ltr"),
        ("dark", "en", "ltr"),
        ("light", "zh-hans", "ltr"),
        ("dark", "en", "rtl"),
    ],
)
def test_axe_finds_no_serious_violation_and_the_screenshot_is_saved(
    signed_in, live_server, user, axe_source, screenshots, scheme, lang, direction
):
    complete(user, "wizard", "signup")
    page = signed_in(user, color_scheme=scheme, reduced_motion="reduce", locale=lang)
    open_widget(page, live_server, f"?lang={lang}&dir={direction}")
    page.add_script_tag(content=axe_source)

    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")

    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == []
    page.locator(WIDGET).screenshot(
        path=str(screenshots / f"widget-{scheme}-{lang}-{direction}.png")
    )
    if lang == "zh-hans":
        assert (
            page.locator(SUMMARY).inner_text() == "已完成 1/4\uff0c还需约 110 秒"
        )  # full-width comma
        assert page.locator(BAR).get_attribute("aria-valuetext") == "1/4 步"
