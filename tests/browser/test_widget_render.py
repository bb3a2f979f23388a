"""The server-rendered first state, and the script rendering the same markup."""

from __future__ import annotations

import pytest

from onboarding.tracking import complete

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_smoke(signed_in, live_server, user, screenshots):
    complete(user, "wizard", "signup")
    page = signed_in(user)
    messages = []
    page.on("console", lambda m: messages.append(m.text))
    page.goto(f"{live_server.url}/widget/")
    page.wait_for_function("!!customElements.get('onboarding-progress')")
    page.screenshot(path=str(screenshots / "smoke.png"))
    print(messages)
    print(
        page.evaluate(
            "document.querySelector('onboarding-progress').shadowRoot.innerHTML.slice(-3000)"
        )
    )
