"""Small helpers shared by the browser tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

WIDGET = "onboarding-progress"
BAR = f"{WIDGET} [role=progressbar]"
SUMMARY = f"{WIDGET} [part=summary]"
STATUS = f"{WIDGET} [part=status]"
QUEUED = """() => Object.keys(localStorage).filter((k) => k.startsWith('onboarding:queue:'))
  .flatMap((k) => JSON.parse(localStorage.getItem(k)))"""


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """``check()``'s first truthy result, polling: the live server answers in its own thread."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def queued(page) -> list[dict[str, Any]]:
    """The events waiting in the page's localStorage queue."""
    return page.evaluate(QUEUED)


def wait_until_flushed(page) -> None:
    """The queue is empty and every widget is done talking to the server: with SQLite in
    memory, reading while the live server writes would find the table locked."""
    page.wait_for_function(f"({QUEUED})().length === 0")
    page.evaluate(
        "Promise.all([...document.querySelectorAll('onboarding-progress')].map((w) => w.flush()))"
    )


def open_widget(page, live_server, query: str = "") -> None:
    page.goto(f"{live_server.url}/widget/{query}")
    page.wait_for_function(f"!!customElements.get('{WIDGET}')")
