"""Bad input is a 400 naming the field, never a 500 and never stored.

Text no column can store (NUL, lone surrogates) in any string of an event, an id that
is not a UUID string, a repeated or NUL query parameter, and chunked bodies through
real servers. Nothing here is marked: the PostgreSQL pass runs it all, and that is the
database where NUL used to reach a query (a 500) instead of being stored (SQLite).
"""

from __future__ import annotations

import http.client
import json
import uuid
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.db import connections
from django.test import override_settings
from django.test.testcases import LiveServerThread
from rest_framework.test import APIClient
from werkzeug.serving import BaseWSGIServer

from onboarding.api.imports import import_events
from onboarding.api.keys import create_key
from onboarding.models import Event

URL = "/onboarding/api/events/"
NUL = "\x00"


@pytest.fixture(autouse=True)
def _clear_throttles():
    cache.clear()


@pytest.fixture
def api_key(db):
    return create_key("input tests", scopes=["ingest", "read"])[1]


@pytest.fixture
def key_client(api_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
    return client


def event(user, **fields):
    return {
        "id": str(uuid.uuid4()),
        "flow": "wizard",
        "step": "signup",
        "kind": "completed",
        "subject": {"type": "auth.user", "id": str(user.pk)},
    } | fields


def post(client, events):
    return client.post(URL, json.dumps({"events": events}), content_type="application/json")


def stored_ids():
    return {str(pk) for pk in Event.objects.values_list("id", flat=True)}


def bad_event(user, field, bad):
    """An event of ``user`` with the text ``bad`` put into ``field`` (dotted: nested)."""
    one = event(user, occurred_at="2025-01-06T09:00:00+00:00", properties={"plan": "pro"})
    if field == "properties.key":
        one["properties"] = {f"pl{bad}an": "pro"}
    elif field == "properties.nested":
        one["properties"] = {"a": [{"b": ["ok", f"x{bad}"]}]}
    elif "." in field:
        outer, inner = field.split(".")
        one[outer][inner] += bad
    else:
        one[field] += bad
    return one


TEXT_FIELDS = [
    ("id", "id"),
    ("flow", "flow"),
    ("step", "step"),
    ("kind", "kind"),
    ("occurred_at", "occurred_at"),
    ("properties.key", "properties"),
    ("properties.nested", "properties"),
    ("subject.type", "subject.type"),
    ("subject.id", "subject.id"),
]


@pytest.mark.parametrize("bad", [NUL, "\ud800"], ids=["nul", "lone-surrogate"])
@pytest.mark.parametrize(("field", "named"), TEXT_FIELDS, ids=[f for f, _n in TEXT_FIELDS])
def test_text_no_column_can_store_refuses_the_event_naming_the_field(
    key_client, user, field, named, bad
):
    sibling = event(user)

    response = post(key_client, [bad_event(user, field, bad), sibling])

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["accepted"], body["duplicates"]) == (1, 0)
    [error] = body["errors"]
    assert (error["index"], error["field"]) == (0, named)
    word = "NUL" if bad == NUL else "surrogate"
    assert word in error["message"]
    assert stored_ids() == {sibling["id"]}


def test_nul_in_occurred_at_is_refused_not_stored_with_the_nul_dropped(key_client, user):
    response = post(key_client, [event(user, occurred_at="2025-01-06T09:00:00\x00")])

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "occurred_at"
    assert not Event.objects.exists()


@override_settings(ONBOARDING={"ASYNC_INGESTION": True})
def test_async_ingestion_refuses_the_same_text_naming_the_field(
    key_client, user, django_capture_on_commit_callbacks
):
    sibling = event(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(key_client, [bad_event(user, "occurred_at", NUL), sibling])

    assert response.status_code == 202, response.content
    assert response.json()["queued"] == 1
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(0, "occurred_at")]
    assert stored_ids() == {sibling["id"]}


def test_nul_in_a_session_users_properties_is_refused(user):
    client = APIClient()
    client.force_login(user)
    payload = {"id": str(uuid.uuid4()), "flow": "wizard", "kind": "viewed"}

    response = post(client, [payload | {"properties": {"k": ["a\x00"]}}])

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "properties"
    assert not Event.objects.exists()


@pytest.mark.parametrize("number", [1, 2**70, 0, True])
def test_an_id_that_is_a_json_number_is_refused_not_read_as_uuid_int(
    key_client, user, other_user, number
):
    # Two clients counting from 1, for different subjects: both refused, neither lost.
    first = post(key_client, [event(user, id=number)])
    second = post(key_client, [event(other_user, id=number)])

    for response in (first, second):
        assert response.status_code == 400
        error = response.json()["errors"][0]
        assert (error["index"], error["field"]) == (0, "id")
        assert "UUID string" in error["message"]
    assert not Event.objects.exists()


def test_a_uuid_string_id_is_still_accepted_in_any_spelling(key_client, user):
    one = uuid.uuid4()

    response = post(key_client, [event(user, id=str(one).upper())])

    assert response.json()["accepted"] == 1
    assert Event.objects.get().id == one


STEP_URL = "/onboarding/api/flows/wizard/steps/signup/complete/"


@pytest.fixture
def session(user):
    client = APIClient()
    client.force_login(user)
    return client


@pytest.mark.parametrize("body", ['{"id": 1}', '{"id": 12345678901234567890123}'])
def test_a_step_action_refuses_a_numeric_id(session, body):
    response = session.post(STEP_URL, body, content_type="application/json")

    assert response.status_code == 400
    assert list(response.json()) == ["id"]
    assert not Event.objects.exists()


def test_a_step_action_refuses_nul_in_its_id(session):
    response = session.post(STEP_URL, {"id": f"{uuid.uuid4()}\x00"}, format="json")

    assert response.status_code == 400
    assert "NUL" in response.json()["id"][0]
    assert not Event.objects.exists()


@pytest.mark.parametrize("body", ["[]", "false", "0", '""', '[{"id": "x"}]'])
def test_a_step_action_body_that_is_no_object_is_refused_not_read_as_none(session, body):
    response = session.post(STEP_URL, body, content_type="application/json")

    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    assert not Event.objects.exists()


@pytest.mark.parametrize("body", ["", "null", "{}"])
def test_a_step_action_without_a_body_still_works(session, body):
    response = session.post(STEP_URL, body, content_type="application/json")

    assert response.status_code == 200
    assert Event.objects.count() == 1


def line(user, **fields):
    data = {
        "flow": "wizard",
        "step": "signup",
        "kind": "completed",
        "occurred_at": "2025-01-06T09:00:00Z",
        "subject": user.pk,
    } | fields
    return json.dumps(data).encode()


def test_the_jsonl_import_refuses_the_same_input_naming_the_field(user):
    good = str(uuid.uuid4())
    lines = [
        line(user, subject={"type": "auth.us\x00er", "id": str(user.pk)}),
        line(user, occurred_at="2025-01-06T09:00:00\x00"),
        line(user, properties={"note": "\ud800"}),  # no id: one could not even be made
        line(user, properties={"k\x00": 1}),
        line(user, id=7),
        line(user, id=2**70),
        line(user, subject=f"{user.pk}\x00"),
        line(user, id=good),
    ]

    report = import_events(lines)

    assert [(number, field) for number, field, _message in report.errors] == [
        (1, "subject.type"),
        (2, "occurred_at"),
        (3, "properties"),
        (4, "properties"),
        (5, "id"),
        (6, "id"),
        (7, "subject.id"),
    ]
    assert report.accepted == 1
    assert stored_ids() == {good}


def test_an_api_key_with_nul_is_a_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Api-Key ab\x00c.secret")

    assert post(client, []).status_code == 401


# Query strings of the GET routes.


@pytest.mark.parametrize(
    ("query", "name", "message"),
    [
        ("page=2&page=1", "page", "Given 2 times"),
        ("page_size=5&page_size=50&page_size=5", "page_size", "Given 3 times"),
        ("page=1&x=%00", "x", "NUL"),
        ("x%00y=1", "x\\x00y", "NUL"),
        ("page=%00", "page", "NUL"),
    ],
)
def test_a_repeated_or_nul_query_parameter_is_400_naming_it(session, query, name, message):
    response = session.get(f"/onboarding/api/flows/?{query}")

    assert response.status_code == 400
    assert list(response.json()) == [name]
    assert message in response.json()[name][0]


def test_the_progress_route_refuses_a_nul_parameter_too(session):
    response = session.get("/onboarding/api/flows/wizard/progress/?flow=wizard%00")

    assert response.status_code == 400
    assert "NUL" in response.json()["flow"][0]


def test_the_funnel_takes_variant_and_version_repeated_but_nothing_else(key_client):
    funnel = "/onboarding/api/flows/wizard/funnel/"

    assert key_client.get(f"{funnel}?variant=a&variant=b&version=1&version=2").status_code == 200
    twice = key_client.get(f"{funnel}?entered_from=2025-01-01&entered_from=2025-02-01")
    assert twice.status_code == 400
    assert list(twice.json()) == ["entered_from"]
    nul = key_client.get(f"{funnel}?variant=a%00")
    assert nul.status_code == 400
    assert list(nul.json()) == ["variant"]


# Chunked bodies, through real servers.


class WerkzeugServer(BaseWSGIServer):
    """Werkzeug's development server, as Django's live server thread drives one."""

    def __init__(self, address, handler_class=None, **kwargs):
        super().__init__(address[0], address[1], app=None)

    def set_app(self, app):
        self.app = app


class WerkzeugThread(LiveServerThread):
    server_class = WerkzeugServer


def serve(thread_class):
    """Start ``thread_class`` (a live server thread) on this test's database."""
    connection = connections["default"]
    shared = {}
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        # As LiveServerTestCase does: the in-memory database is this connection.
        connection.inc_thread_sharing()
        shared["default"] = connection
    thread = thread_class("127.0.0.1", lambda app: app, connections_override=shared)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    return thread, shared


@pytest.fixture
def werkzeug_server(transactional_db, settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    thread, shared = serve(WerkzeugThread)
    yield thread.port
    thread.terminate()
    if shared:
        connections["default"].dec_thread_sharing()


def send_chunked(host, port, body, api_key, chunk=1000):
    """POST ``body`` to events/ in chunks of ``chunk`` bytes, with no Content-Length."""
    connection = http.client.HTTPConnection(host, port, timeout=60)
    try:
        chunks = (body[start : start + chunk] for start in range(0, len(body), chunk))
        connection.request(
            "POST",
            URL,
            body=chunks,
            headers={"Content-Type": "application/json", "Authorization": f"Api-Key {api_key}"},
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_small_chunked_batch_is_stored_under_a_server_that_passes_it_on(
    werkzeug_server, api_key, user
):
    events = [event(user), event(user, step="profile")]

    status, body = send_chunked(
        "127.0.0.1", werkzeug_server, json.dumps({"events": events}).encode(), api_key
    )

    assert (status, body) == (200, {"accepted": 2, "duplicates": 0, "errors": []})
    assert stored_ids() == {one["id"] for one in events}


def test_a_chunked_body_over_the_limit_is_413_and_nothing_is_stored(
    werkzeug_server, api_key, user, settings
):
    settings.ONBOARDING = {"API_MAX_BATCH_BYTES": 2000}
    events = [event(user, properties={"pad": "x" * 200}) for _ in range(10)]

    status, body = send_chunked(
        "127.0.0.1", werkzeug_server, json.dumps({"events": events}).encode(), api_key
    )

    assert status == 413
    assert "API_MAX_BATCH_BYTES" in body["detail"]
    assert not Event.objects.exists()


def test_a_chunked_body_the_server_drops_is_411_not_an_empty_batch(live_server, api_key, user):
    # Django's own server (runserver, the live server) passes no chunked body on.
    address = urlsplit(live_server.url)

    status, body = send_chunked(
        address.hostname, address.port, json.dumps({"events": [event(user)]}).encode(), api_key
    )

    assert status == 411
    assert "Content-Length" in body["detail"]
    assert not Event.objects.exists()
