"""Real-browser fixtures: Debian's chromium driven by Playwright, pages on pytest-django's
``live_server``, signed in through a session cookie made by the test client.

Chromium (``/usr/bin/chromium``, ``ONBOARDING_CHROMIUM`` to override) missing: the tests
fail under ``CI=true`` or ``ONBOARDING_REQUIRE_SERVICES=1`` and are skipped with the
reason otherwise. Browsers are never downloaded.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.test import Client

from tests.services import required

CHROMIUM = os.environ.get("ONBOARDING_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("ONBOARDING_SCREENSHOTS", "/tmp/onboarding-widget"))


def _missing(message: str) -> None:
    if required():
        pytest.fail(f"{message} (required: CI=true or ONBOARDING_REQUIRE_SERVICES=1)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    """One chromium per test module.

    Playwright's sync API keeps an event loop running in this thread, which Django's
    async-safety check takes for async code: the check is off while the browser runs.
    """
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which(CHROMIUM)):
        _missing(f"chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[test]')")
    saved = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if saved is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = saved


@pytest.fixture
def widget_urls(settings):
    """The widget's test pages (tests/browser/urls.py) next to the suite's own URLs."""
    settings.ROOT_URLCONF = "tests.browser.urls"


@pytest.fixture
def signed_in(browser, live_server, widget_urls):
    """``signed_in(user, **context_options)``: a page whose browser context holds
    ``user``'s session cookie for the live server."""
    contexts = []

    def _open(user, **options):
        client = Client()
        client.force_login(user)
        context = browser.new_context(**options)
        context.add_cookies(
            [
                {
                    "name": "sessionid",
                    "value": client.cookies["sessionid"].value,
                    "url": live_server.url,
                }
            ]
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core from the npm package (``npm ci`` installs it; ``make test`` runs that)."""
    if not AXE.exists():
        _missing(f"{AXE} is missing: run `npm ci` at the project root")
    return AXE.read_text()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
