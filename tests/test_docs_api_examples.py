"""The examples of docs/api.md are true: each HTTP exchange is sent and its answer compared.

Every ```http block holding a request is sent in page order against one database, and
the ```http block after it must match the answer: status, the headers it lists, and
the body. In a documented JSON body ``"..."`` stands for any value, a trailing
``"..."`` in a list for more items, and a ``"...": "..."`` member for more members.
Placeholders in requests (``<api key>``, ``<embed token>``, ``<csrf token>``) are
replaced by real credentials. The JSON Lines example is imported and its output
compared the same way.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.middleware.csrf import _get_new_csrf_string
from django.test import override_settings
from rest_framework.test import APIClient

from onboarding.api.embed import make_embed_token
from onboarding.api.keys import create_key
from onboarding.progress import get_progress

PAGE = Path(__file__).resolve().parent.parent / "docs" / "api.md"
ANY = "..."
# The settings the page's examples are written for (shown on the page).
SETTINGS = {"API_CORS_ORIGINS": ["https://partner.example"]}
# The signed-in user of the session examples is in this variant of the "bingo" flow.
SESSION_VARIANT = "shown"


@dataclass
class Exchange:
    request: str
    response: str
    line: int


@dataclass
class Message:
    start: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


def blocks(text: str, language: str) -> list[tuple[int, str]]:
    """``(line number, content)`` of every fenced block in ``language``."""
    pattern = re.compile(rf"^```{language}\n(.*?)^```$", re.M | re.S)
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in pattern.finditer(text)]


def exchanges(text: str) -> list[Exchange]:
    found = blocks(text, "http")
    assert len(found) % 2 == 0, "docs/api.md: an http block without its pair"
    pairs = []
    for (line, request), (_line, response) in zip(found[::2], found[1::2], strict=True):
        assert not request.startswith("HTTP/"), f"docs/api.md:{line}: a response without request"
        assert response.startswith("HTTP/"), f"docs/api.md:{line}: a request without response"
        pairs.append(Exchange(request, response, line))
    return pairs


def parse(raw: str) -> Message:
    head, _blank, body = raw.partition("\n\n")
    start, *lines = head.splitlines()
    headers = {}
    for line in lines:
        name, _colon, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Message(start.strip(), headers, body.strip())


def matches(documented: Any, actual: Any) -> bool:
    """``actual`` has the documented shape, ``"..."`` standing for what is left out."""
    if documented == ANY:
        return True
    if isinstance(documented, dict):
        if not isinstance(actual, dict):
            return False
        keys = set(documented) - {ANY}
        if ANY not in documented and keys != set(actual):
            return False
        return keys <= set(actual) and all(matches(documented[k], actual[k]) for k in keys)
    if isinstance(documented, list):
        if not isinstance(actual, list):
            return False
        if documented and documented[-1] == ANY:
            head = documented[:-1]
            return len(actual) >= len(head) and all(map(matches, head, actual))
        return len(documented) == len(actual) and all(map(matches, documented, actual))
    return documented == actual and type(documented) is type(actual)


@pytest.fixture
def people(db):
    """The page's people: ada (signed in, variant "shown"), and users 42 and 43."""
    users = get_user_model()._default_manager
    # Explicit primary keys: the page names 42 and 43; ada's is picked for her variant.
    users.create(pk=42, username="grace")
    users.create(pk=43, username="linus")
    for pk in range(1000, 1100):
        ada = users.create(pk=pk, username=f"ada{pk}")
        if get_progress(ada, "bingo").variant == SESSION_VARIANT:
            return ada
        ada.delete()
    raise AssertionError("no user in the documented variant")


def test_every_http_example_of_the_api_page_is_true(people):
    cache.clear()  # throttle budgets of earlier tests
    text = PAGE.read_text()
    api_key = create_key("docs", scopes=["ingest", "read"])[1]
    csrf = _get_new_csrf_string()
    session = APIClient(enforce_csrf_checks=True)
    session.force_login(people)
    session.cookies["csrftoken"] = csrf
    found = exchanges(text)
    assert len(found) >= 10  # the parser found the examples

    with override_settings(ONBOARDING=SETTINGS):
        for exchange in found:
            request, documented = parse(exchange.request), parse(exchange.response)
            method, path, _version = request.start.split()
            headers = {
                name: value.replace("<api key>", api_key)
                .replace("<embed token>", make_embed_token(people))
                .replace("<csrf token>", csrf)
                for name, value in request.headers.items()
            }
            # Credentials in a header: a client with no cookies. Otherwise ada's session.
            client = APIClient() if "authorization" in headers else session
            content_type = headers.pop("content-type", None)
            extra = {f"HTTP_{name.upper().replace('-', '_')}": v for name, v in headers.items()}
            kwargs = {"content_type": content_type} if content_type else {}
            response = client.generic(method, path, request.body, **kwargs, **extra)

            where = f"docs/api.md:{exchange.line}: {request.start}"
            status = int(documented.start.split()[1])
            body = response.content.decode()
            assert response.status_code == status, f"{where}: got {response.status_code} {body}"
            for name, value in documented.headers.items():
                assert name in response.headers, f"{where}: no {name} header"
                assert value == ANY or response.headers[name] == value, (
                    f"{where}: {name}: {response.headers[name]}"
                )
            if documented.headers.get("content-type", "").startswith("application/json"):
                same = matches(json.loads(documented.body), json.loads(body))
                assert same, f"{where}: the answer is\n{json.dumps(json.loads(body), indent=2)}"
            else:
                assert body.replace("\r\n", "\n").strip() == documented.body, f"{where}:\n{body}"


def test_the_jsonl_import_example_is_true(people, tmp_path):
    text = PAGE.read_text()
    (_line, lines), *_ = blocks(text, "jsonl")
    (_line, output), *_ = blocks(text, "console")
    command, *expected = output.strip().splitlines()
    assert command == "$ python manage.py onboarding_import events.jsonl"
    path = tmp_path / "events.jsonl"
    path.write_text(lines, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()

    call_command("onboarding_import", str(path), stdout=out, stderr=err)

    assert (err.getvalue() + out.getvalue()).strip().splitlines() == expected
