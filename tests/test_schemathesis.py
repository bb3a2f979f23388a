"""schemathesis against the served OpenAPI schema, through Django's WSGI handler.

Every operation is called with generated valid and invalid input, once as a signed-in
user (session cookie and CSRF token, allowed to read funnels) and once with an API key
(scopes ingest and read). No 5xx, and every response (status code, content type,
headers, body) conforms to the schema.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client, override_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from onboarding import track
from onboarding.api.keys import create_key
from tests.factories import UserFactory

SCHEMA_URL = "/onboarding/api/schema/?format=json"
CSRF_TOKEN = "schemathesis" * 2 + "abcdefgh"  # any 32 letters: the cookie a page would have
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
EXAMPLES = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def served_schema():
    """The schema as the app serves it (no database needed to build it)."""
    # schemathesis' WSGI client calls the app as "localhost".
    with override_settings(ALLOWED_HOSTS=["localhost"]):
        return schemathesis.openapi.from_wsgi(SCHEMA_URL, WSGIHandler())


schema = served_schema()


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Like Django's test client: the handler must not close the connection that holds
    the test's transaction when a request ends."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _no_throttles(settings):
    settings.ALLOWED_HOSTS = ["localhost"]
    settings.ONBOARDING = {"API_THROTTLE_RATES": {"subject": None, "key": None}}
    cache.clear()


@pytest.fixture
def session_user(db):
    """Cookies and headers of a signed-in user with some progress and funnel access."""
    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="view_funnel"))
    track(user, "wizard", "signup")
    client = Client()
    client.force_login(user)
    cookies = {"sessionid": client.cookies["sessionid"].value, "csrftoken": CSRF_TOKEN}
    return {"cookies": cookies, "headers": {"X-CSRFToken": CSRF_TOKEN}}


@pytest.fixture
def api_key(db):
    _key, secret = create_key("schemathesis", scopes=["ingest", "read"])
    return {"headers": {"Authorization": f"Api-Key {secret}"}}


@schema.parametrize()
@EXAMPLES
def test_as_a_signed_in_user(case, session_user):
    case.call_and_validate(
        headers=session_user["headers"], cookies=session_user["cookies"], checks=CHECKS
    )


@schema.parametrize()
@EXAMPLES
def test_with_an_api_key(case, api_key):
    case.call_and_validate(headers=api_key["headers"], checks=CHECKS)


def test_the_generated_calls_get_past_authentication(session_user, api_key):
    """The runs above would pass vacuously on 401/403s: both credentials work."""
    operations = schema["/onboarding/api/flows/{flow}/steps/{step}/complete/"]["POST"]
    step = operations.Case(path_parameters={"flow": "wizard", "step": "profile"}, body={})
    funnel = schema["/onboarding/api/flows/{flow}/funnel/"]["GET"].Case(
        path_parameters={"flow": "wizard"}, query={}
    )

    as_user = step.call(headers=session_user["headers"], cookies=session_user["cookies"])
    with_key = funnel.call(headers=api_key["headers"])

    assert as_user.status_code == 200
    assert as_user.json()["done"] == 2
    assert with_key.status_code == 200
    assert with_key.json()["entered"] == 1
