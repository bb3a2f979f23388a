"""A page on another origin embeds the widget: the signed embed token works, nothing else does."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.template import engines
from django.test import RequestFactory
from playwright.sync_api import expect

from onboarding.models import Event
from onboarding.progress import get_progress
from tests.browser.helpers import BAR, STATUS, eventually, queued, wait_until_flushed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STATIC = Path(__file__).resolve().parents[2] / "onboarding" / "static"
SNIPPET = engines["django"].from_string(
    '{% load onboarding_widget %}{% onboarding_widget "wizard" origin=origin %}'
)


@pytest.fixture
def other_site():
    """``other_site(html)``: serves ``html`` at ``/`` and the widget's static files, from
    127.0.0.1 on its own port (the live server is http://localhost:<port>)."""
    servers = []

    def _serve(html: str) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/":
                    body, kind = html.encode(), "text/html; charset=utf-8"
                elif self.path.startswith("/static/") and ".." not in self.path:
                    body, kind = (
                        (STATIC / self.path[len("/static/") :]).read_bytes(),
                        "text/javascript",
                    )
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield _serve
    for server in servers:
        server.shutdown()
        server.server_close()


def embed_page(user, api_origin: str, *, token: bool = True) -> str:
    """What the app at ``api_origin`` hands the other site for ``user`` (the tag's output)."""
    request = RequestFactory().get("/")
    request.user = user
    snippet = SNIPPET.render({"origin": api_origin}, request)
    if not token:
        start = snippet.index(' token="')
        snippet = snippet[:start] + snippet[snippet.index('"', start + 8) + 1 :]
    return f'<!doctype html><html lang="en"><title>Partner site</title><main>{snippet}</main>'


def test_the_embed_token_works_cross_origin_without_cookies(
    browser, live_server, other_site, user, settings
):
    page_html = embed_page(user, live_server.url)
    origin = other_site(page_html)
    settings.ONBOARDING = {"API_CORS_ORIGINS": [origin]}
    page = browser.new_page()
    sent = []
    page.on("request", lambda r: "/onboarding/api/" in r.url and sent.append(r))

    page.goto(origin)
    page.get_by_role("button", name="Use a sample project").click()
    wait_until_flushed(page)

    expect(page.locator(BAR)).to_have_attribute("aria-valuenow", "1")
    event = eventually(lambda: Event.objects.filter(kind="defaulted").first())
    assert event.actor == user
    assert get_progress(user, "wizard").done == 1
    posts = [r for r in sent if r.method == "POST"]
    assert posts and all(r.headers["authorization"].startswith("Embed ") for r in posts)
    assert not any("cookie" in r.all_headers() for r in sent)
    page.close()


def test_without_the_token_the_api_refuses_and_the_event_stays_queued(
    browser, live_server, other_site, user, settings
):
    origin = other_site(embed_page(user, live_server.url, token=False))
    settings.ONBOARDING = {"API_CORS_ORIGINS": [origin]}
    page = browser.new_page()
    answers = []
    page.on(
        "response",
        lambda r: "/onboarding/api/" in r.url and r.request.method == "POST" and answers.append(r),
    )

    page.goto(origin)
    page.get_by_role("button", name="Use a sample project").click()

    expect(page.locator(STATUS)).to_have_text(
        "Your progress could not be saved. Please reload the page."
    )
    assert answers and answers[0].status in (401, 403)
    assert [e["step"] for e in queued(page)] == ["project"]  # kept, not lost
    assert Event.objects.count() == 0
    page.close()


def test_an_origin_not_configured_gets_no_cors_answer(
    browser, live_server, other_site, user, settings
):
    origin = other_site(embed_page(user, live_server.url))
    settings.ONBOARDING = {"API_CORS_ORIGINS": []}
    page = browser.new_page()

    page.goto(origin)
    page.get_by_role("button", name="Use a sample project").click()

    # The browser blocks the preflight: nothing reaches the API, the event waits.
    expect(page.locator(STATUS)).to_contain_text("back online")
    assert Event.objects.count() == 0
    page.close()
