"""Arbitrary JSON for every unsafe endpoint of the API, and the JSONL import.

Each route that writes (events/ synchronous and async, with a session and with an API
key; the four step actions; any other method on any route) gets generated bodies
holding valid events, broken ones and text no column can store (NUL, lone
surrogates). Whatever comes in: no 5xx, nothing stored from a refused event, and the
valid events beside it stored. Runs on SQLite and in the PostgreSQL pass.
"""

from __future__ import annotations

import json
import operator
import uuid
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.test import override_settings
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from onboarding.api.imports import import_events
from onboarding.api.keys import create_key
from onboarding.models import Event

URL = "/onboarding/api/events/"
EXAMPLES = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
NASTY = ["\x00", "a\x00b", "\ud800", "x\udfff", "\x00\ud800"]
texts = st.text(max_size=6) | st.builds(operator.add, st.text(max_size=3), st.sampled_from(NASTY))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(texts, children, max_size=3),
    max_leaves=8,
)
EVENT_FIELDS = ["id", "flow", "step", "kind", "occurred_at", "properties", "subject"]
TEXT_FIELDS = ["flow", "step", "kind", "occurred_at", "subject.type", "subject.id"]
# One event of a batch: a valid one; one with a field replaced (or an unknown one added);
# an integer id (DRF reads it as UUID(int=n)); text no column stores put in a string
# field; or any JSON at all.
items = st.one_of(
    st.just(("valid", None, None)),
    st.tuples(
        st.just("replace"), st.sampled_from([*EVENT_FIELDS, *TEXT_FIELDS[-2:]]) | texts, json_values
    ),
    st.tuples(st.just("replace"), st.just("id"), st.integers()),
    st.tuples(st.just("append"), st.sampled_from(TEXT_FIELDS), st.sampled_from(NASTY)),
    st.tuples(st.just("any"), st.none(), json_values),
)
# The cases that were 500s or silently lost, always tried first.
KNOWN = [("append", "subject.type", "\x00"), ("replace", "id", 1), ("valid", None, None)]
KNOWN_SESSION = [("append", "occurred_at", "\x00"), ("replace", "id", 2**70)]


@pytest.fixture(autouse=True)
def _clear_throttles():
    cache.clear()


@pytest.fixture
def session(user):
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def key_client(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {create_key('fuzz', scopes=['ingest'])[1]}")
    return client


def valid_event(user, with_subject):
    one = {
        "id": str(uuid.uuid4()),
        "flow": "wizard",
        "step": "signup",
        "kind": "completed",
        "occurred_at": "2025-01-06T09:00:00+00:00",
        "properties": {"plan": "pro"},
    }
    if with_subject:
        one["subject"] = {"type": "auth.user", "id": str(user.pk)}
    return one


def build(item, user, with_subject):
    """The event an ``items`` example stands for, each with a fresh id unless replaced."""
    how, field, value = item
    if how == "any":
        return value
    one = valid_event(user, with_subject=True if "." in str(field) else with_subject)
    if how == "valid":
        return one
    if field in ("subject.type", "subject.id"):
        inner = field.split(".")[1]
        if how == "replace":
            one["subject"][inner] = value
        else:
            one["subject"][inner] += value
    elif how == "replace":
        one[field] = value
    else:
        one[field] += value
    return one


def stored(event_id):
    try:
        key = uuid.UUID(event_id)
    except (TypeError, ValueError, AttributeError):
        return False
    return Event.objects.filter(id=key).exists()


def check_batch(response, sent, fresh, before):
    """No 5xx; the valid siblings and every event not refused stored; refused events
    (with an id made here) not stored."""
    assert response.status_code < 500, response.content
    if response.status_code == 413:
        assert Event.objects.count() == before
        return
    body = response.json()
    refused = {error["index"] for error in body["errors"]}
    assert refused <= set(range(1, len(sent) - 1)), body  # never the valid siblings
    for index, one in enumerate(sent):
        event_id = one.get("id") if isinstance(one, dict) else None
        if index in refused:
            if isinstance(event_id, str) and event_id in fresh:
                assert not stored(event_id), (index, one, body)
        else:
            assert stored(event_id), (index, one, body)


def send_batch(client, data, user, with_subject):
    cache.clear()  # the examples share the throttles' budget
    sent = [build(item, user, with_subject) for item in data]
    fresh = {
        one["id"]
        for item, one in zip(data, sent, strict=True)
        if item[0] != "any" and not (item[0] == "replace" and item[1] == "id")
    }
    # A valid sibling at each end: always stored, whatever is between.
    sent = [valid_event(user, with_subject), *sent, valid_event(user, with_subject)]
    fresh |= {sent[0]["id"], sent[-1]["id"]}
    before = Event.objects.count()
    response = client.post(URL, json.dumps({"events": sent}), content_type="application/json")
    return response, sent, fresh, before


@EXAMPLES
@given(data=st.lists(items, max_size=4))
@example(data=KNOWN_SESSION)
def test_events_with_a_session(session, user, data):
    response, sent, fresh, before = send_batch(session, data, user, with_subject=False)

    assert response.status_code == 200, response.content
    check_batch(response, sent, fresh, before)
    assert Event.objects.count() - before == response.json()["accepted"]


@EXAMPLES
@given(data=st.lists(items, max_size=4))
@example(data=KNOWN)
def test_events_with_an_api_key(key_client, user, data):
    response, sent, fresh, before = send_batch(key_client, data, user, with_subject=True)

    assert response.status_code == 200, response.content
    check_batch(response, sent, fresh, before)
    assert Event.objects.count() - before == response.json()["accepted"]


@EXAMPLES
@given(data=st.lists(items, max_size=4))
@example(data=KNOWN_SESSION)
@override_settings(ONBOARDING={"ASYNC_INGESTION": True})
def test_events_ingested_async(key_client, user, data, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response, sent, fresh, before = send_batch(key_client, data, user, with_subject=True)

    assert response.status_code == 202, response.content
    check_batch(response, sent, fresh, before)
    refused = {error["index"] for error in response.json()["errors"]}
    assert response.json()["queued"] == len(sent) - len(refused)


step_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({}, optional={"id": st.uuids().map(str) | json_values}),
    st.builds(lambda bad: {"id": str(uuid.uuid4()) + bad}, st.sampled_from(NASTY)),
)


@EXAMPLES
@given(
    action=st.sampled_from(["complete", "default", "skip", "dismiss"]),
    step=st.sampled_from(["signup", "profile", "project"]),
    body=step_bodies,
)
@example(action="complete", step="signup", body={"id": 1})
def test_step_actions(session, action, step, body):
    cache.clear()
    before = Event.objects.count()

    response = session.post(
        f"/onboarding/api/flows/wizard/steps/{step}/{action}/",
        json.dumps(body),
        content_type="application/json",
    )

    assert response.status_code < 500, response.content
    added = Event.objects.count() - before
    if response.status_code == 200:
        assert added in (0, 1)  # 0: an id stored before
        if isinstance(body, dict) and "id" in body:
            assert stored(body["id"])
    else:
        assert added == 0, response.content


lines = st.lists(
    st.one_of(
        items.map(lambda item: ("event", item)),
        st.binary(max_size=12).map(lambda raw: ("raw", raw)),
    ),
    max_size=5,
)


@EXAMPLES
@given(data=lines)
@example(data=[("event", item) for item in KNOWN + KNOWN_SESSION])
def test_the_jsonl_import(user, data):
    sent = [
        (build(value, user, with_subject=True) if kind == "event" else None, kind, value)
        for kind, value in data
    ]
    raw_lines = [
        json.dumps(one).encode() if kind == "event" else value for one, kind, value in sent
    ]
    before = Event.objects.count()

    report = import_events(raw_lines)

    assert report.lines == len(raw_lines)
    refused = {number for number, _field, _message in report.errors}
    assert refused <= set(range(1, len(raw_lines) + 1))
    assert Event.objects.count() - before == report.accepted
    for number, (one, kind, value) in enumerate(sent, start=1):
        made_here = kind == "event" and value[0] != "any" and value[1] != "id"
        if not made_here:
            continue
        if number in refused:
            assert not stored(one["id"]), (number, one, report.errors)
        else:
            assert stored(one["id"]), (number, one, report.errors)


ROUTES = [
    "/onboarding/api/flows/",
    "/onboarding/api/flows/wizard/progress/",
    *(f"/onboarding/api/flows/wizard/steps/signup/{a}/" for a in ("complete", "skip")),
    "/onboarding/api/flows/wizard/funnel/",
    URL,
    "/onboarding/api/schema/",
    "/onboarding/api/nowhere/",
]


@EXAMPLES
@given(
    route=st.sampled_from(ROUTES),
    method=st.sampled_from(["put", "patch", "delete", "post"]),
    body=json_values,
)
def test_any_method_on_any_route(session, route, method, body):
    cache.clear()
    before = Event.objects.count()

    response = getattr(session, method)(route, json.dumps(body), content_type="application/json")

    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        assert Event.objects.count() == before


@EXAMPLES
@given(
    route=st.sampled_from([r for r in ROUTES if "steps" not in r and r != URL]),
    query=st.lists(st.tuples(texts | st.sampled_from(["page", "variant"]), texts), max_size=4),
)
@example(route="/onboarding/api/flows/", query=[("page", "2"), ("page", "1")])
def test_any_query_on_the_get_routes(admin_client, route, query):
    cache.clear()
    encoded = urlencode(query, encoding="utf-8", errors="surrogatepass")

    response = admin_client.get(f"{route}?{encoded}")  # a superuser: the funnel too

    assert response.status_code < 500, response.content
    if response.status_code == 200:
        names = [name for name, _value in query]
        repeated = {name for name in names if names.count(name) > 1}
        assert repeated <= ({"variant", "version"} if "funnel" in route else set())
        assert not any("\x00" in name + value for name, value in query)
