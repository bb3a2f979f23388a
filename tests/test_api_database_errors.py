"""A database that fails under a request (connection lost, "database is locked" past the
busy timeout) answers 503 JSON with Retry-After on every API route, never Django's HTML
500, and a batch retried afterwards is stored exactly once."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter

import pytest
import requests
from django.db import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connections,
    transaction,
)
from django.db import connection as default_connection
from django.test import RequestFactory
from django.urls import URLPattern, reverse
from rest_framework.test import APIClient

from onboarding.api import urls as api_urls
from onboarding.api.embed import make_embed_token
from onboarding.api.keys import create_key
from onboarding.api.unavailable import RETRY_AFTER_SECONDS, answers_503_when_the_database_fails
from onboarding.models import Event
from tests.factories import UserFactory
from tests.testapp.models import Project

DETAIL = {"detail": "The database is unavailable right now. Try again shortly."}
EVENTS = "/onboarding/api/events/"
FAILURES = [
    OperationalError("server closed the connection unexpectedly"),
    InterfaceError("connection already closed"),
    OperationalError("database is locked"),
]
ROUTE_ARGUMENTS = {"flow": "wizard", "step": "profile"}
SWEEPS = 30  # of pg_terminate_backend over the database's other backends, 0.1 s apart


def api_routes() -> list[tuple[str, str]]:
    """``(method, path)`` of every named route under the API, each method its view has."""
    routes = []
    for pattern in api_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        if pattern.name is None:
            continue  # the catch-all JSON 404, tested below
        view = pattern.callback.cls
        path = reverse(
            f"onboarding:api:{pattern.name}",
            kwargs={name: ROUTE_ARGUMENTS[name] for name in pattern.pattern.converters},
        )
        routes += [(method, path) for method in ("get", "post") if hasattr(view, method)]
    return routes


def assert_unavailable(response) -> None:
    assert response.status_code == 503, response.content[:300]
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert json.loads(response.content) == DETAIL


def failing(error: Exception):
    def execute(execute, sql, params, many, context):
        raise error

    return execute


@pytest.fixture
def staff_client(db):
    # A superuser: the funnel route needs onboarding.view_funnel.
    client = APIClient(raise_request_exception=False)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_the_routes_listed_are_all_of_the_api():
    names = {method + " " + path.split("/")[-2] for method, path in api_routes()}
    assert names >= {
        "get flows",
        "get progress",
        "post complete",
        "post default",
        "post skip",
        "post dismiss",
        "get funnel",
        "post events",
        "get schema",
    }


@pytest.mark.parametrize("error", FAILURES, ids=str)
@pytest.mark.parametrize(("method", "path"), api_routes())
def test_every_api_route_answers_503_json_when_the_database_fails(
    staff_client, method, path, error
):
    with default_connection.execute_wrapper(failing(error)):
        response = getattr(staff_client, method)(path, {}, format="json")

    assert_unavailable(response)


@pytest.mark.parametrize("error", FAILURES, ids=str)
def test_api_key_and_embed_token_requests_answer_503_json_when_the_database_fails(user, error):
    _key, secret = create_key("bi", scopes=["ingest", "read"])
    keyed = APIClient(raise_request_exception=False, HTTP_AUTHORIZATION=f"Api-Key {secret}")
    token = make_embed_token(user)
    widget = APIClient(raise_request_exception=False, HTTP_AUTHORIZATION=f"Embed {token}")

    with default_connection.execute_wrapper(failing(error)):
        batch = keyed.post(EVENTS, {"events": []}, format="json")
        csv = keyed.get("/onboarding/api/flows/wizard/funnel/?format=csv")
        progress = widget.get("/onboarding/api/flows/wizard/progress/")

    assert_unavailable(batch)
    assert_unavailable(csv)
    assert_unavailable(progress)


def test_no_route_is_still_a_json_404_when_the_database_fails(staff_client):
    with default_connection.execute_wrapper(failing(FAILURES[0])):
        response = staff_client.get("/onboarding/api/nothing/here/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("error", FAILURES, ids=str)
def test_a_plain_api_view_answers_503_json_when_the_database_fails(error):
    @answers_503_when_the_database_fails
    def view(request):
        raise error

    assert_unavailable(view(RequestFactory().get("/onboarding/api/widget/")))


def test_other_database_errors_are_not_taken_for_an_outage():
    @answers_503_when_the_database_fails
    def view(request):
        raise IntegrityError("duplicate key")

    with pytest.raises(IntegrityError):
        view(RequestFactory().get("/onboarding/api/widget/"))


@pytest.mark.django_db(transaction=True)
def test_with_atomic_requests_a_503_commits_nothing(monkeypatch, user):
    monkeypatch.setitem(default_connection.settings_dict, "ATOMIC_REQUESTS", True)

    @answers_503_when_the_database_fails
    def view(request):
        Project.objects.create(owner=user, name="half done")
        raise OperationalError("database is locked")

    # As Django runs a view with ATOMIC_REQUESTS (BaseHandler.make_view_atomic).
    response = transaction.atomic(using="default")(view)(RequestFactory().post("/x/"))

    assert_unavailable(response)
    assert not Project.objects.exists()


# PostgreSQL: the backend of the connection a request uses is terminated from another
# connection, as a server restart, a failover or an idle-session killer would.


def backend_pid() -> int:
    with default_connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def terminate(pid: int) -> None:
    """``pg_terminate_backend`` from a second connection, waiting until the backend is gone."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
                if cursor.fetchone() is None:
                    return
                time.sleep(0.05)
        pytest.fail(f"backend {pid} still runs 60 s after pg_terminate_backend")
    finally:
        other.close()


def batch_of(user, count: int = 20) -> list[dict]:
    steps = ["signup", "profile", "project", "invite", "publish"]
    return [
        {
            "id": str(uuid.uuid4()),
            "flow": "wizard",
            "step": steps[i % len(steps)],
            "kind": "completed",
            "subject": {"type": "auth.user", "id": str(user.pk)},
        }
        for i in range(count)
    ]


@pytest.fixture
def key_client(transactional_db):
    _key, secret = create_key("load", scopes=["ingest"])
    return APIClient(raise_request_exception=False, HTTP_AUTHORIZATION=f"Api-Key {secret}")


def retried_until_stored(client, batch: list[dict]) -> None:
    # What Django does when a request ends (the test client leaves it out): a connection
    # that had errors and is no longer usable is closed, the next request opens one.
    close_old_connections()
    response = client.post(EVENTS, {"events": batch}, format="json")
    assert response.status_code == 200, response.content[:300]
    assert response.json() == {"accepted": len(batch), "duplicates": 0, "errors": []}
    again = client.post(EVENTS, {"events": batch}, format="json")
    assert again.json() == {"accepted": 0, "duplicates": len(batch), "errors": []}
    ids = [uuid.UUID(event["id"]) for event in batch]
    assert Event.objects.filter(id__in=ids).count() == len(batch)
    assert Event.objects.count() == len(batch)


@pytest.mark.postgres
def test_a_backend_terminated_before_the_request_answers_503_then_the_retry_stores_once(
    key_client,
):
    batch = batch_of(UserFactory())
    terminate(backend_pid())

    assert_unavailable(key_client.post(EVENTS, {"events": batch}, format="json"))
    retried_until_stored(key_client, batch)


@pytest.mark.postgres
def test_a_backend_terminated_while_the_batch_is_written_answers_503_and_stores_nothing(
    key_client,
):
    batch = batch_of(UserFactory())
    pid = backend_pid()
    terminated = []

    def terminate_at_the_event_insert(execute, sql, params, many, context):
        if not terminated and "onboarding_event" in sql and "INSERT" in sql.upper():
            terminated.append(sql)
            terminate(pid)
        return execute(sql, params, many, context)

    with default_connection.execute_wrapper(terminate_at_the_event_insert):
        response = key_client.post(EVENTS, {"events": batch}, format="json")

    assert terminated, "the batch never reached its insert"
    assert_unavailable(response)
    retried_until_stored(key_client, batch)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_backends_terminated_under_load_answer_503_and_nothing_acknowledged_is_lost(
    live_server, settings
):
    """4 clients send 10 batches each over HTTP while another connection keeps terminating
    every other backend of the database: each answer is 200 or the JSON 503; re-sent
    after a 503, every event is stored exactly once."""
    settings.ONBOARDING = {"API_THROTTLE_RATES": {"subject": None, "key": None}}
    _key, secret = create_key("load", scopes=["ingest"])
    users = UserFactory.create_batch(4)
    work = [[batch_of(user, 50) for _ in range(10)] for user in users]
    ours = backend_pid()  # this test's own connection is spared
    stop = threading.Event()
    kills: list[int] = []
    answers: Counter[str] = Counter()
    failures: list[str] = []
    lock = threading.Lock()

    def killer() -> None:
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                # Sweeps while the clients start; bounded, so that every batch gets through.
                for _sweep in range(SWEEPS):
                    if stop.is_set():
                        break
                    cursor.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                        "AND pid <> %s",
                        [ours],
                    )
                    kills.append(sum(1 for (done,) in cursor.fetchall() if done))
                    time.sleep(0.1)
        finally:
            other.close()

    def client(batches: list[list[dict]]) -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Api-Key {secret}"
            for batch in batches:
                for _attempt in range(50):
                    response = session.post(
                        f"{live_server.url}{EVENTS}", json={"events": batch}, timeout=120
                    )
                    with lock:
                        answers[str(response.status_code)] += 1
                    if response.status_code == 200:
                        body = response.json()
                        if body["accepted"] + body["duplicates"] != len(batch):
                            with lock:
                                failures.append(f"200 counting {body}")
                        break
                    json_503 = (
                        response.status_code == 503
                        and response.headers.get("Content-Type") == "application/json"
                        and response.headers.get("Retry-After") == str(RETRY_AFTER_SECONDS)
                        and response.json() == DETAIL
                    )
                    if not json_503:
                        with lock:
                            failures.append(f"{response.status_code}: {response.text[:300]}")
                        break
                    time.sleep(0.05)  # a real client waits Retry-After; a test need not
                else:
                    with lock:
                        failures.append("a batch got 50 503s in a row")

    killing = threading.Thread(target=killer)
    killing.start()
    threads = [threading.Thread(target=client, args=(batches,)) for batches in work]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
    finally:
        stop.set()
        killing.join(timeout=60)

    assert not any(thread.is_alive() for thread in threads), "a client hung"
    assert failures == []
    assert answers["503"] > 0, f"no request met a terminated backend ({sum(kills)} killed)"
    assert set(answers) <= {"200", "503"}
    assert answers["200"] == 40
    sent = {uuid.UUID(event["id"]) for batches in work for batch in batches for event in batch}
    assert set(Event.objects.values_list("id", flat=True)) == sent
    assert Event.objects.count() == len(sent) == 2000
    print(f"\n{answers['503']} answers 503, 40 batches stored; {sum(kills)} backends terminated")
